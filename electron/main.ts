/**
 * The Electron main process: wiring only. The core does the work; electron/app/ holds
 * the thin adapters (window, app:// protocol, tray, security, IPC, log, dialogs, notifications).
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, powerMonitor, protocol, session, Tray } from 'electron';
import electronLog from 'electron-log/main';
import { join } from 'node:path';
import { IPC_EVENT_CHANNEL } from '../shared/channels.js';
import type { Channel, OpenView, ServiceEvent } from '../shared/contract.js';
import { Outpost } from './core/outpost.js';
import { packageRoot } from './core/runtime/session-image.js';
import { KeytarSecretStore } from './core/secrets/keytar-store.js';
import { ShutdownPolicy } from './core/shutdown.js';
import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, appFileHandler } from './app/app-protocol.js';
import { askAboutRunningSessions } from './app/dialogs.js';
import { registerIpc, trustedSenderCheck } from './app/ipc.js';
import { appLogFile, configureAppLog } from './app/log.js';
import { NotificationPolicy, showNotice } from './app/notifications.js';
import { hardenContents, hardenSession } from './app/security.js';
import { renderTray } from './app/tray.js';
import type { TrayAction } from './app/tray-model.js';
import { keepInTrayOnClose, mainWindowOptions } from './app/window.js';

// Before ready, or Electron will not treat app:// as a standard, secure origin.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  void app.whenReady().then(start);
}

async function start(): Promise<void> {
  const root = packageRoot();
  const iconsFolder = join(root, 'build/tray');
  electronLog.initialize();
  const logger = configureAppLog(electronLog, app.getPath('logs'));
  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  hardenSession(session.defaultSession);
  protocol.handle(APP_SCHEME, appFileHandler(join(root, 'dist/renderer')));

  const outpost = Outpost.open({
    dataDir: app.getPath('userData'),
    secrets: new KeytarSecretStore(),
    logger,
    appLogFile: appLogFile(app.getPath('logs')),
    onSettingsChanged: (settings) => app.setLoginItemSettings({ openAtLogin: settings.startAtLogin }),
    // On battery, with pauseOnBattery set, claim nothing.
    power: {
      onBattery: () => powerMonitor.isOnBatteryPower(),
      subscribe: (listener) => {
        const battery = () => listener(true);
        const mains = () => listener(false);
        powerMonitor.on('on-battery', battery);
        powerMonitor.on('on-ac', mains);
        return () => (powerMonitor.off('on-battery', battery), powerMonitor.off('on-ac', mains));
      },
    },
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
      void window.loadURL(APP_INDEX_URL);
    }
    window.show();
    window.focus();
  };

  registerIpc(ipcMain, outpost, trustedSenderCheck(() => window?.webContents.id));

  // The tray's Stop and Quit share one policy: the first asks (sessions running) and drains, a second stops now.
  const shutdown = new ShutdownPolicy(outpost, (sessions) => askAboutRunningSessions(dialog, window, sessions));
  let mayExit = false;
  const quit = () =>
    void shutdown.request().then(async (proceed) => {
      if (!proceed) return;
      await outpost.dispose();
      mayExit = true;
      allowClose();
      app.quit();
    });
  app.on('before-quit', (event) => {
    if (mayExit) return;
    event.preventDefault();
    quit();
  });

  const call = (channel: Channel) =>
    void outpost.handle(channel, {}).then((reply) => {
      if ('error' in reply) new Notification({ title: 'Outpost', body: reply.error.message }).show();
    });
  const onTrayAction = (action: TrayAction) => {
    if (action === 'open') openWindow();
    else if (action === 'quit') quit();
    else if (action === 'stop') void shutdown.request();
    else call(action === 'start' ? 'worker.start' : action === 'pause' ? 'worker.pause' : 'worker.resume');
  };
  const tray = new Tray(nativeImage.createFromPath(join(iconsFolder, 'off.png')));
  const trayDeps = { tray, buildMenu: (t: Electron.MenuItemConstructorOptions[]) => Menu.buildFromTemplate(t), image: (p: string) => nativeImage.createFromPath(p), iconsFolder, onAction: onTrayAction };
  renderTray(trayDeps, outpost.workerState);

  // A clicked notification opens its view: at once in a loaded window, or once a new one has loaded.
  const openView = (view: OpenView) => {
    openWindow();
    const send = () => window?.webContents.send(IPC_EVENT_CHANNEL, { name: 'open-view', payload: view } satisfies ServiceEvent);
    if (window?.webContents.isLoading()) window.webContents.once('did-finish-load', send);
    else send();
  };
  const notifications = new NotificationPolicy();
  outpost.events.on((event) => {
    window?.webContents.send(IPC_EVENT_CHANNEL, event);
    const notice = notifications.decide(event, outpost.settings.desktopNotifications);
    if (notice) showNotice(Notification, notice, openView);
    if (event.name === 'worker-state') renderTray(trayDeps, event.payload);
  });
  for (const message of outpost.startupNotices) new Notification({ title: 'Outpost', body: message }).show();

  // Asleep, claim nothing; awake, check every lease before claiming again.
  powerMonitor.on('suspend', () => outpost.sleep());
  powerMonitor.on('resume', () => void outpost.wake());
  app.setLoginItemSettings({ openAtLogin: outpost.settings.startAtLogin });
  app.on('second-instance', openWindow);
  // The window closing is not the app quitting: the worker lives in the tray.
  app.on('window-all-closed', () => {});
  openWindow();
}
