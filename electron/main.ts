/**
 * The Electron main process: wiring only. The core does the work; electron/app/ holds
 * the thin adapters (window, app:// protocol, tray, security, IPC, log, dialogs, notifications,
 * start at login).
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, nativeTheme, net, Notification, powerMonitor, protocol, session, Tray } from 'electron';
// electron-log/node, not /main: the main flavour registers an ipcMain listener at import and, once
// initialized, a preload on every session — a channel any page script could write forged lines
// into outpost.log through. Only the main process writes this log; the node flavour is the same file transport.
import electronLog from 'electron-log/node';
// CommonJS: its autoUpdater is a getter that makes the platform's updater on first read (Updates reads it only when packed).
import electronUpdater from 'electron-updater';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { IPC_EVENT_CHANNEL } from '../shared/channels.js';
import type { Channel, OpenView, ServiceEvent } from '../shared/contract.js';
import { Outpost } from './core/outpost.js';
import { packageRoot } from './core/runtime/session-image.js';
import { KeytarSecretStore } from './core/secrets/keytar-store.js';
import { DATA_ENTRIES, dataFolderFor, migrateDataFolder } from './core/store/data-folder.js';
import { ShutdownPolicy } from './core/shutdown.js';
import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, appFileHandler } from './app/app-protocol.js';
import { askAboutRunningSessions } from './app/dialogs.js';
import { registerIpc, trustedSenderCheck } from './app/ipc.js';
import { appLogFile, configureAppLog } from './app/log.js';
import { DesktopNotifications, NotificationPolicy, showNotice } from './app/notifications.js';
import { hardenContents, hardenSession } from './app/security.js';
import { applyStartAtLogin, startedAtLogin } from './app/start-at-login.js';
import { renderTray, trayIconPath } from './app/tray.js';
import type { TrayAction } from './app/tray-model.js';
import { packageTypeIn, updateMode, Updates } from './app/updates.js';
import { applicationMenu, keepInTrayOnClose, mainWindowOptions, reloadOnceWhenGone, windowMenu } from './app/window.js';

/** Windows shows a notification only for an app whose AppUserModelID its Start-menu shortcut carries: the installer's (package.json build.appId). */
const APP_USER_MODEL_ID = 'dev.outpost.app';
const platform = process.platform;

// Before ready, or Electron will not treat app:// as a standard, secure origin.
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);
// Before ready, or Electron installs its default menu (Reload, Toggle DevTools) at ready.
Menu.setApplicationMenu(null);
if (platform === 'win32') app.setAppUserModelId(APP_USER_MODEL_ID);
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // Electron's main process only warns about an unhandled rejection: a start that failed would leave
  // a process with no window and no tray holding the single-instance lock, and every later launch
  // would do nothing. Say why, and exit.
  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      // Configured first thing in start(); if that is what failed, the log goes to electron-log's default file.
      electronLog.error('Outpost could not start:', error);
      dialog.showErrorBox('Outpost could not start', `${reason}\n\nOutpost’s log: ${appLogFile(app.getPath('logs'))}`);
      app.exit(1);
    });
}

async function start(): Promise<void> {
  // Settings stay in userData (Roaming on Windows, ~/.config on Linux); sessions' data goes to a local folder
  // Docker Desktop shares (store/data-folder.ts). Before productName was Outpost, userData was …/outpost:
  // a case-sensitive disk (Linux) keeps it apart, so its settings and data move too.
  const userData = app.getPath('userData');
  const formerUserData = join(app.getPath('appData'), 'outpost');
  const settingsFolder = migrateDataFolder([formerUserData], userData, ['settings.json']);
  const dataFolder = migrateDataFolder([formerUserData, userData], dataFolderFor({ platform, env: process.env, home: app.getPath('home') }), DATA_ENTRIES);
  // The app's log beside the sessions' logs, out of a roaming or config folder; macOS keeps ~/Library/Logs/Outpost (Console finds it there).
  if (platform !== 'darwin') app.setAppLogsPath(join(dataFolder.use, 'logs'));
  const logger = configureAppLog(electronLog, app.getPath('logs'));
  for (const note of [...settingsFolder.said, ...dataFolder.said]) logger.info(`data folder: ${note}`);
  const root = packageRoot();
  const iconsFolder = join(root, 'build/tray');
  const menu = applicationMenu(platform);
  if (menu) Menu.setApplicationMenu(Menu.buildFromTemplate(menu));
  // A tray app: no dock icon (the packed app says so too, with LSUIElement, so none flashes at launch).
  if (platform === 'darwin') app.dock?.hide();
  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  hardenSession(session.defaultSession);
  protocol.handle(APP_SCHEME, appFileHandler(join(root, 'dist/renderer')));

  const loginItem = {
    platform,
    app,
    // What starts this Outpost again: the AppImage's own file (its executable lives in a mount that goes away),
    // the packed executable, or in development Electron with the app folder.
    command: app.isPackaged ? [process.env['APPIMAGE'] ?? process.execPath] : [process.execPath, root],
    home: homedir(),
    env: process.env,
  };
  const applyLoginItem = (enabled: boolean) => {
    try {
      applyStartAtLogin(enabled, loginItem);
    } catch (e) {
      logger.warn('could not change start at login', { error: (e as Error).message });
    }
  };
  const outpost = Outpost.open({
    dataDir: dataFolder.use,
    settingsDir: settingsFolder.use,
    secrets: new KeytarSecretStore(),
    logger,
    appLogFile: appLogFile(app.getPath('logs')),
    // Electron's network stack: the system's proxy settings (PAC included) and certificate store, as the browser.
    fetch: (input, init) => net.fetch(input instanceof URL ? input.href : input, init),
    onSettingsChanged: (settings) => applyLoginItem(settings.startAtLogin),
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

  const notifications = new DesktopNotifications(Notification);
  let window: BrowserWindow | undefined;
  let allowClose: () => void = () => {};
  let toldAboutTray = false;
  const createWindow = (): BrowserWindow => {
    const created = new BrowserWindow(mainWindowOptions(join(root, 'dist/electron/preload.cjs'), join(root, 'build/icon.png'), nativeTheme.shouldUseDarkColors));
    const ownMenu = windowMenu(platform, { quit: () => quit() });
    if (ownMenu) created.setMenu(Menu.buildFromTemplate(ownMenu));
    allowClose = keepInTrayOnClose(created, () => {
      if (toldAboutTray) return;
      toldAboutTray = true;
      const where = platform === 'linux' ? 'the tray menu or the window’s Outpost menu' : 'the tray menu';
      notifications.show('Outpost is still running', `It keeps serving sessions from the tray. Quit from ${where}.`);
    });
    reloadOnceWhenGone(created.webContents, ({ reason, exitCode, reloaded }) => {
      logger.error(`the window’s renderer ${reason} (exit code ${exitCode}); ${reloaded ? 'reloaded' : 'closed: it stopped again after a reload'}`);
      notifications.show('Outpost’s window stopped', reloaded ? `It was reloaded (${reason}). The worker kept running.` : `It stopped again (${reason}); open it from the tray. The worker keeps running.`);
      if (!reloaded) {
        allowClose();
        created.destroy();
      }
    });
    created.on('closed', () => {
      if (window === created) window = undefined;
    });
    void created.loadURL(APP_INDEX_URL);
    return created;
  };
  // Shown once its page has painted (ready-to-show) on the first open, at once after that.
  const openWindow = () => {
    if (!window) {
      const created = (window = createWindow());
      created.once('ready-to-show', () => {
        created.show();
        created.focus();
      });
      return;
    }
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
  };

  registerIpc(ipcMain, outpost, trustedSenderCheck(() => window?.webContents.id));

  // The tray's Stop and Quit share one policy: the first asks (sessions running) and drains, a second stops now.
  const shutdown = new ShutdownPolicy(outpost, (sessions) => askAboutRunningSessions(dialog, window, sessions));
  let mayExit = false;
  // Restart to update is a quit first (sessions asked about and drained, the core closed), then the installer.
  const quit = (then: () => void = () => app.quit()) =>
    void shutdown.request().then(async (proceed) => {
      if (!proceed) return;
      updates.dispose();
      await outpost.dispose();
      mayExit = true;
      allowClose();
      then();
    });
  const restartToUpdate = () =>
    quit(() => {
      // electron-updater quits the app itself once its installer runs; if it did not start, quit anyway (the log says why).
      if (!updates.install()) app.quit();
      else setTimeout(() => app.quit(), 10_000).unref();
    });
  app.on('before-quit', (event) => {
    if (mayExit) return;
    event.preventDefault();
    quit();
  });

  const call = (channel: Channel) =>
    void outpost.handle(channel, {}).then((reply) => {
      if ('error' in reply) notifications.show('Outpost', reply.error.message);
    });
  const onTrayAction = (action: TrayAction) => {
    if (action === 'open') openWindow();
    else if (action === 'quit') quit();
    else if (action === 'stop') void shutdown.request();
    else if (action === 'update') restartToUpdate();
    else call(action === 'start' ? 'worker.start' : action === 'pause' ? 'worker.pause' : 'worker.resume');
  };

  const tray = new Tray(nativeImage.createFromPath(trayIconPath(iconsFolder, 'off', platform)));
  // Windows: a left click opens the window, as users expect of a tray icon there (the menu is on the right click).
  if (platform === 'win32') tray.on('click', openWindow);
  const trayDeps = { tray, buildMenu: (t: Electron.MenuItemConstructorOptions[]) => Menu.buildFromTemplate(t), image: (p: string) => nativeImage.createFromPath(p), iconsFolder, platform, onAction: onTrayAction };
  renderTray(trayDeps, outpost.workerState);

  const updates = new Updates({
    mode: updateMode({ isPackaged: app.isPackaged, platform, env: process.env, packageType: packageTypeIn(process.resourcesPath) }),
    updater: () => electronUpdater.autoUpdater,
    logger,
    onChange: (offer) => renderTray(trayDeps, outpost.workerState, offer),
  });

  // A clicked notification opens its view: at once in a loaded window, or once a new one has loaded.
  const openView = (view: OpenView) => {
    openWindow();
    const send = () => window?.webContents.send(IPC_EVENT_CHANNEL, { name: 'open-view', payload: view } satisfies ServiceEvent);
    if (window?.webContents.isLoading()) window.webContents.once('did-finish-load', send);
    else send();
  };
  const policy = new NotificationPolicy();
  outpost.events.on((event) => {
    window?.webContents.send(IPC_EVENT_CHANNEL, event);
    const notice = policy.decide(event, outpost.settings.desktopNotifications);
    if (notice) showNotice(notifications, notice, openView);
    if (event.name === 'worker-state') renderTray(trayDeps, event.payload, updates.offer);
  });
  for (const message of outpost.startupNotices) notifications.show('Outpost', message);

  // Asleep, claim nothing; awake, check every lease before claiming again.
  powerMonitor.on('suspend', () => outpost.sleep());
  powerMonitor.on('resume', () => void outpost.wake());
  applyLoginItem(outpost.settings.startAtLogin);
  app.on('second-instance', openWindow);
  // macOS: opening the app again (Finder, Spotlight, the Dock) activates the running one.
  app.on('activate', openWindow);
  // The window closing is not the app quitting: the worker lives in the tray.
  app.on('window-all-closed', () => {});

  updates.start();

  // Started at login, Outpost stays in the tray.
  if (!startedAtLogin(process.argv, platform, app)) openWindow();
}
