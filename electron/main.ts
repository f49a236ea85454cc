/**
 * The Electron main process: wiring only. The core does the work; electron/app/ holds
 * the thin adapters (window, tray, security, IPC, log, dialogs, notifications).
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, powerMonitor, session, Tray } from 'electron';
import electronLog from 'electron-log/main';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IPC_EVENT_CHANNEL } from '../shared/channels.js';
import type { WorkerState } from '../shared/states.js';
import { DataPaths } from './core/paths.js';
import { QuitFlow } from './core/quit.js';
import { DockerRuntime } from './core/runtime/docker.js';
import { ensureSessionImage, packageRoot } from './core/runtime/session-image.js';
import { KeytarSecretStore } from './core/secrets/keytar-store.js';
import { OutpostService } from './core/service.js';
import { SettingsStore } from './core/settings.js';
import { askAboutRunningSessions } from './app/dialogs.js';
import { registerIpc, trustedSenderCheck } from './app/ipc.js';
import { appLogFile, configureAppLog } from './app/log.js';
import { notificationFor } from './app/notifications.js';
import { hardenContents, hardenSession } from './app/security.js';
import { renderTray } from './app/tray.js';
import type { TrayAction } from './app/tray-model.js';
import { keepInTrayOnClose, mainWindowOptions } from './app/window.js';

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void app.whenReady().then(start);
}

async function start(): Promise<void> {
  const root = packageRoot();
  const rendererDir = join(root, 'dist/renderer');
  const rendererUrl = pathToFileURL(join(rendererDir, 'index.html')).href;
  const isAppUrl = (url: string) => url.startsWith(pathToFileURL(rendererDir).href + '/');
  const iconsFolder = join(root, 'build/tray');
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

  electronLog.initialize();
  const logger = configureAppLog(electronLog, app.getPath('logs'));
  app.on('web-contents-created', (_event, contents) => hardenContents(contents, isAppUrl));
  hardenSession(session.defaultSession);

  const userData = app.getPath('userData');
  const runtime = new DockerRuntime();
  const service = new OutpostService({
    paths: new DataPaths(userData),
    settings: new SettingsStore(userData),
    secrets: new KeytarSecretStore(),
    runtime,
    logger,
    prepare: (image) => ensureSessionImage({ runtime, image, logger, version }),
    onSettingsChanged: (settings) => app.setLoginItemSettings({ openAtLogin: settings.startAtLogin }),
    appLogFile: appLogFile(app.getPath('logs')),
  });

  let window: BrowserWindow | undefined;
  let allowClose: () => void = () => {};
  let toldAboutTray = false;
  const openWindow = () => {
    if (!window) {
      window = new BrowserWindow(mainWindowOptions(join(root, 'dist/electron/preload.cjs'), join(root, 'build/icon.png')));
      allowClose = keepInTrayOnClose(window, () => {
        if (toldAboutTray) return;
        toldAboutTray = true;
        new Notification({ title: 'Outpost is still running', body: 'It keeps serving sessions from the tray. Quit from the tray menu.' }).show();
      });
      window.once('ready-to-show', () => window?.show());
      void window.loadURL(rendererUrl);
    }
    window.show();
    window.focus();
  };

  registerIpc(ipcMain, service, trustedSenderCheck(() => window?.webContents.id, isAppUrl));

  const quitFlow = new QuitFlow(service, (sessions) => askAboutRunningSessions(dialog, window, sessions));
  let mayExit = false;
  const quit = () => {
    void quitFlow.quit().then((proceed) => {
      if (!proceed) return;
      mayExit = true;
      allowClose();
      app.quit();
    });
  };
  app.on('before-quit', (event) => {
    if (mayExit) return;
    event.preventDefault();
    quit();
  });

  const onTrayAction = (action: TrayAction) => {
    const call = (channel: Parameters<typeof service.handle>[0], arg?: unknown) =>
      void service.handle(channel, arg).then((reply) => {
        if ('error' in reply) new Notification({ title: 'Outpost', body: reply.error.message }).show();
      });
    if (action === 'open') openWindow();
    else if (action === 'quit') quit();
    else if (action === 'start') call('worker.start');
    else if (action === 'pause') call('worker.pause');
    else if (action === 'resume') call('worker.resume');
    else if (action === 'stop') {
      const sessions = service.activeSessions;
      if (sessions === 0) call('worker.stop', { mode: 'now' });
      else void askAboutRunningSessions(dialog, window, sessions).then((answer) => answer !== 'cancel' && call('worker.stop', { mode: answer === 'drain' ? 'drain' : 'now' }));
    }
  };
  const tray = new Tray(nativeImage.createFromPath(join(iconsFolder, 'off.png')));
  const trayDeps = { tray, buildMenu: (t: Electron.MenuItemConstructorOptions[]) => Menu.buildFromTemplate(t), image: (p: string) => nativeImage.createFromPath(p), iconsFolder, onAction: onTrayAction };
  renderTray(trayDeps, service.workerState);

  let previous: WorkerState | undefined;
  service.events.on((event) => {
    window?.webContents.send(IPC_EVENT_CHANNEL, event);
    const notice = notificationFor(event, previous);
    if (notice) new Notification(notice).show();
    if (event.name === 'worker-state') {
      previous = event.payload;
      renderTray(trayDeps, event.payload);
    }
  });
  for (const message of service.startupNotices) new Notification({ title: 'Outpost', body: message }).show();

  // Asleep, claim nothing; awake, check every lease before claiming again.
  powerMonitor.on('suspend', () => service.sleep());
  powerMonitor.on('resume', () => void service.wake());
  app.setLoginItemSettings({ openAtLogin: service.settings.startAtLogin });
  app.on('second-instance', openWindow);
  // The window closing is not the app quitting: the worker lives in the tray.
  app.on('window-all-closed', () => {});
  openWindow();
}
