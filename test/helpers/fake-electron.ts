/**
 * A recording stand-in for the `electron` module (its binary cannot run on these machines): the
 * main process is loaded under Node with `import 'electron'` resolved to ./electron-module.ts, whose
 * exports forward to the FakeElectron installed by loadMain(). Each object records what main does
 * with it, in order, with whether the app was ready at the time — enough to drive a launch, a
 * failed start, a closed window, a second launch, a crashed renderer and a quit the way Electron
 * would, without pretending to render anything.
 */
import { EventEmitter } from 'node:events';
import { createRequire, Module, register } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Recorded {
  what: string;
  args: unknown[];
  /** Whether `ready` had fired when it was called. */
  ready: boolean;
}

export interface FakeOptions {
  platform?: NodeJS.Platform;
  userData: string;
  /** Electron's appData (userData's parent: ~/.config, %APPDATA%, ~/Library/Application Support). */
  appData?: string;
  logs: string;
  home?: string;
  argv?: string[];
  dark?: boolean;
  /** Another instance holds the lock. */
  secondInstance?: boolean;
  /** app.isPackaged: launched from an installed app rather than `electron .` (updates are checked). */
  packaged?: boolean;
  /** What getLoginItemSettings() says (macOS's wasOpenedAtLogin). */
  loginItem?: { wasOpenedAtLogin?: boolean; wasOpenedAsHidden?: boolean };
  /**
   * Variables set (or, undefined, removed) for this launch. The data folder's own (OUTPOST_DATA_DIR,
   * XDG_DATA_HOME, LOCALAPPDATA) are removed unless given: the data folder is then under `home`, never the real one.
   */
  env?: Record<string, string | undefined>;
}

type Listener = (...args: unknown[]) => unknown;

export class FakeElectron {
  readonly record: Recorded[] = [];
  readonly windows: FakeWindow[] = [];
  readonly trays: FakeTray[] = [];
  readonly notifications: FakeNotification[] = [];
  readonly ipcListeners = new Map<string, Listener[]>();
  readonly ipcHandlers = new Map<string, Listener>();
  readonly permission: { request?: (contents: unknown, permission: string, callback: (granted: boolean) => void, details: unknown) => void; check?: (...args: unknown[]) => boolean } = {};
  readonly protocols = new Map<string, (request: Request) => Promise<Response>>();
  readonly options: FakeOptions;
  isReady = false;
  exitCode: number | undefined;
  quitted = false;
  applicationMenu: unknown = 'default';
  #waiters: Array<{ test: () => boolean; resolve: () => void }> = [];
  #ready!: () => void;
  readonly #whenReady = new Promise<void>((resolve) => (this.#ready = resolve));

  constructor(options: FakeOptions) {
    this.options = options;
    this.app.isPackaged = options.packaged ?? false;
  }

  note(what: string, ...args: unknown[]): void {
    this.record.push({ what, args, ready: this.isReady });
    this.#settle();
  }

  calls(what: string): Recorded[] {
    return this.record.filter((r) => r.what === what);
  }

  /** Resolves once `test` holds; checked after every recorded call (no timers). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  #settle(): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test()) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** Electron's `ready`: whenReady() resolves and `ready` fires. */
  fireReady(): void {
    this.isReady = true;
    this.note('ready');
    this.app.emit('ready');
    this.#ready();
  }

  /** electron-updater's autoUpdater, as main sees it (the import is resolved to ./updater-module.ts). */
  readonly updater = new FakeUpdater(this);

  readonly app = Object.assign(new EventEmitter(), {
    fake: this,
    isPackaged: false,
    name: 'Outpost',
    whenReady: () => this.#whenReady,
    isReady: () => this.isReady,
    requestSingleInstanceLock: () => (this.note('app.requestSingleInstanceLock'), !this.options.secondInstance),
    getPath: (name: string) => {
      const paths: Record<string, string | undefined> = { userData: this.options.userData, appData: this.options.appData ?? dirname(this.options.userData), logs: this.options.logs, home: this.options.home, sessionData: this.options.userData };
      const path = paths[name];
      if (!path) throw new Error(`fake electron: no path ${name}`);
      return path;
    },
    getName: () => 'Outpost',
    /** Where getPath('logs') points from now on (as Electron's app.setAppLogsPath). */
    setAppLogsPath: (path: string) => {
      this.options.logs = path;
      this.note('app.setAppLogsPath', path);
    },
    getVersion: () => '0.0.0',
    setAppUserModelId: (id: string) => this.note('app.setAppUserModelId', id),
    setLoginItemSettings: (settings: unknown) => this.note('app.setLoginItemSettings', settings),
    getLoginItemSettings: () => ({ openAtLogin: false, ...this.options.loginItem }),
    dock: { hide: () => this.note('app.dock.hide'), show: () => this.note('app.dock.show') },
    quit: () => {
      this.note('app.quit');
      const event = { prevented: false, preventDefault: () => void (event.prevented = true) };
      this.app.emit('before-quit', event);
      if (event.prevented) return;
      this.quitted = true;
      this.note('quit');
    },
    exit: (code = 0) => {
      this.exitCode = code;
      this.note('app.exit', code);
    },
  });

  readonly dialog = {
    showErrorBox: (title: string, content: string) => this.note('dialog.showErrorBox', title, content),
    showMessageBox: async (...args: unknown[]) => (this.note('dialog.showMessageBox', ...args), { response: 0, checkboxChecked: false }),
  };

  readonly Menu = Object.assign(
    class {},
    {
      setApplicationMenu: (menu: unknown) => {
        this.applicationMenu = menu;
        this.note('Menu.setApplicationMenu', menu);
      },
      buildFromTemplate: (template: unknown[]) => ({ template }),
    },
  );

  readonly nativeImage = {
    createFromPath: (path: string) => ({ path, isEmpty: () => false }),
  };

  readonly nativeTheme = Object.defineProperty(new EventEmitter(), 'shouldUseDarkColors', { get: () => this.options.dark ?? false }) as EventEmitter & { readonly shouldUseDarkColors: boolean };

  readonly powerMonitor = Object.assign(new EventEmitter(), { isOnBatteryPower: () => false });

  readonly protocol = {
    registerSchemesAsPrivileged: (schemes: unknown) => this.note('protocol.registerSchemesAsPrivileged', schemes),
    handle: (scheme: string, handler: (request: Request) => Promise<Response>) => {
      this.protocols.set(scheme, handler);
      this.note('protocol.handle', scheme);
    },
  };

  readonly session = {
    defaultSession: {
      setPermissionRequestHandler: (handler: never) => void ((this.permission.request = handler), this.note('session.setPermissionRequestHandler')),
      setPermissionCheckHandler: (handler: never) => void ((this.permission.check = handler), this.note('session.setPermissionCheckHandler')),
      webRequest: { onHeadersReceived: () => this.note('session.webRequest.onHeadersReceived') },
      registerPreloadScript: (script: unknown) => this.note('session.registerPreloadScript', script),
      setPreloads: (preloads: unknown) => this.note('session.setPreloads', preloads),
      getPreloads: () => [],
    },
  };

  readonly ipcMain = {
    on: (channel: string, listener: Listener) => {
      this.ipcListeners.set(channel, [...(this.ipcListeners.get(channel) ?? []), listener]);
      this.note('ipcMain.on', channel);
    },
    handle: (channel: string, listener: Listener) => {
      this.ipcHandlers.set(channel, listener);
      this.note('ipcMain.handle', channel);
    },
    removeHandler: (channel: string) => void this.ipcHandlers.delete(channel),
  };

  readonly net = {
    fetch: (input: RequestInfo | URL, init?: RequestInit) => (this.note('net.fetch', String(input instanceof Request ? input.url : input)), globalThis.fetch(input, init)),
  };

  readonly webContents = { getAllWebContents: () => this.windows.map((w) => w.webContents) };

  readonly BrowserWindow = makeWindowClass(this);
  readonly Tray = makeTrayClass(this);
  readonly Notification = makeNotificationClass(this);
}

/**
 * A recording stand-in for electron-updater's autoUpdater: what main sets on it and calls, and the
 * events a test fires as the real one would (update-available, update-downloaded, error).
 */
export class FakeUpdater extends EventEmitter {
  autoDownload = true;
  autoInstallOnAppQuit = true;
  logger: unknown = console;
  /** What the next check does: resolve with nothing, or fail as electron-updater does (an 'error' event and a rejection). */
  nextCheck: Error | undefined;

  constructor(private readonly electron: FakeElectron) {
    super();
  }

  checkForUpdates(): Promise<unknown> {
    this.electron.note('updater.checkForUpdates');
    const error = this.nextCheck;
    if (!error) return Promise.resolve(null);
    this.emit('error', error);
    return Promise.reject(error);
  }

  quitAndInstall(isSilent?: boolean, isForceRunAfter?: boolean): void {
    this.electron.note('updater.quitAndInstall', isSilent, isForceRunAfter);
    setImmediate(() => this.electron.app.quit());
  }
}

export interface FakeWindow extends EventEmitter {
  options: Record<string, unknown>;
  webContents: EventEmitter & { id: number; sent: unknown[]; reloads: number; loading: boolean; send(channel: string, payload: unknown): void; reload(): void; isLoading(): boolean; isDestroyed(): boolean };
  visible: boolean;
  destroyed: boolean;
  menu: unknown;
  /** The user closes the window: `close` (which may be prevented), then gone. */
  userClose(): void;
}

function makeWindowClass(electron: FakeElectron) {
  let ids = 0;
  return class extends EventEmitter implements FakeWindow {
    static getAllWindows = () => electron.windows.filter((w) => !w.destroyed);
    static fromWebContents = (contents: unknown) => electron.windows.find((w) => w.webContents === contents) ?? null;
    options: Record<string, unknown>;
    visible = false;
    destroyed = false;
    menu: unknown;
    webContents = Object.assign(new EventEmitter(), {
      id: ++ids,
      sent: [] as unknown[],
      reloads: 0,
      loading: true,
      send: (channel: string, payload: unknown) => void this.webContents.sent.push([channel, payload]),
      reload: () => {
        this.webContents.reloads++;
        electron.note('webContents.reload', this.webContents.id);
      },
      isLoading: () => this.webContents.loading,
      isDestroyed: () => this.destroyed,
      setWindowOpenHandler: () => {},
    });
    constructor(options: Record<string, unknown>) {
      super();
      this.options = options;
      electron.windows.push(this);
      electron.note('new BrowserWindow', options);
      electron.app.emit('web-contents-created', {}, this.webContents);
    }
    loadURL(url: string) {
      electron.note('window.loadURL', url);
      return Promise.resolve();
    }
    show() {
      this.visible = true;
      electron.note('window.show', this.webContents.id);
    }
    hide() {
      this.visible = false;
      electron.note('window.hide', this.webContents.id);
    }
    focus() {
      electron.note('window.focus', this.webContents.id);
    }
    restore() {
      electron.note('window.restore', this.webContents.id);
    }
    isMinimized() {
      return false;
    }
    isVisible() {
      return this.visible;
    }
    isDestroyed() {
      return this.destroyed;
    }
    setMenu(menu: unknown) {
      this.menu = menu;
      electron.note('window.setMenu', menu);
    }
    destroy() {
      this.destroyed = true;
      this.visible = false;
      electron.note('window.destroy', this.webContents.id);
      this.emit('closed');
    }
    close() {
      this.userClose();
    }
    userClose() {
      const event = { prevented: false, preventDefault: () => void (event.prevented = true) };
      this.emit('close', event);
      if (event.prevented) return;
      this.destroy();
      if (electron.windows.every((w) => w.destroyed)) electron.app.emit('window-all-closed');
    }
  };
}

export interface FakeTray extends EventEmitter {
  image: { path: string } | undefined;
  tooltip: string;
  menu: { template: Array<{ label?: string; click?: () => void }> } | undefined;
  /** The menu item with this label, clicked. */
  choose(label: string): void;
}

function makeTrayClass(electron: FakeElectron) {
  return class extends EventEmitter implements FakeTray {
    image: { path: string } | undefined;
    tooltip = '';
    menu: FakeTray['menu'];
    constructor(image: { path: string }) {
      super();
      this.image = image;
      electron.trays.push(this);
      electron.note('new Tray', image.path);
    }
    setImage(image: { path: string }) {
      this.image = image;
      electron.note('tray.setImage', image.path);
    }
    setToolTip(text: string) {
      this.tooltip = text;
    }
    setContextMenu(menu: FakeTray['menu']) {
      this.menu = menu;
      electron.note('tray.setContextMenu');
    }
    choose(label: string) {
      const item = this.menu?.template.find((i) => i.label === label);
      if (!item?.click) throw new Error(`the tray menu has no ${label}: ${this.menu?.template.map((i) => i.label).join(', ')}`);
      item.click();
    }
  };
}

export interface FakeNotification extends EventEmitter {
  options: { title: string; body: string };
  shown: boolean;
}

function makeNotificationClass(electron: FakeElectron) {
  return class extends EventEmitter implements FakeNotification {
    static isSupported = () => true;
    shown = false;
    constructor(readonly options: { title: string; body: string }) {
      super();
      electron.notifications.push(this);
    }
    show() {
      this.shown = true;
      electron.note('notification.show', this.options.title, this.options.body);
    }
    close() {
      this.emit('close');
    }
  };
}

let hooked = false;
let runs = 0;

/**
 * Loads a main-process entry (electron/main.ts, or a packed dist/electron/main.js) afresh with
 * `electron` resolved to the fake: a query string makes it a new module instance each time, so
 * its top-level code (schemes, the single-instance lock, whenReady) runs again.
 */
export async function loadMain(entry: string, options: FakeOptions): Promise<FakeElectron> {
  if (!hooked) {
    const target = pathToFileURL(new URL('./electron-module.ts', import.meta.url).pathname).href;
    const updater = pathToFileURL(new URL('./updater-module.ts', import.meta.url).pathname).href;
    const hooks = `export async function resolve(specifier, context, next) {
      if (specifier === 'electron') return next(${JSON.stringify(target)}, context);
      if (specifier === 'electron-updater') return next(${JSON.stringify(updater)}, context);
      return next(specifier, context);
    }`;
    register(`data:text/javascript,${encodeURIComponent(hooks)}`);
    // CommonJS code (a library's require('electron')) does not pass through those hooks in Node 20:
    // it would get the npm package, which tries to download Electron. It gets the fake too.
    const require = createRequire(import.meta.url);
    const forwarded = ((await import('./electron-module.js')) as { default: object }).default;
    const path = require.resolve('electron');
    require.cache[path] = Object.assign(new Module(path), { filename: path, loaded: true, exports: forwarded });
    hooked = true;
  }
  const electron = new FakeElectron(options);
  (globalThis as { __outpostFakeElectron?: FakeElectron }).__outpostFakeElectron = electron;
  if (options.platform) Object.defineProperty(process, 'platform', { value: options.platform, configurable: true });
  // A Windows path is joined with backslashes (path.win32): on this machine, one relative name in the working folder.
  // Pretending to be Windows, the data folder is named outright, under the fake home, unless the test says otherwise.
  const windowsData = options.platform === 'win32' ? join(options.home ?? dirname(options.userData), 'AppData', 'Local', 'Outpost') : undefined;
  for (const [name, value] of Object.entries({ OUTPOST_DATA_DIR: windowsData, XDG_DATA_HOME: undefined, LOCALAPPDATA: undefined, ...options.env })) {
    if (!savedEnv.has(name)) savedEnv.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  // As Electron passes them: main reads them after ready, too (a login start's --hidden).
  process.argv = [realArgv[0]!, entry, ...(options.argv ?? [])];
  await import(`${pathToFileURL(entry).href}?run=${++runs}`);
  return electron;
}

const realPlatform = process.platform;
const realArgv = process.argv;
const savedEnv = new Map<string, string | undefined>();
/** Puts the real platform and arguments back after a test that pretended to be another OS or launch. */
export function restoreProcess(): void {
  Object.defineProperty(process, 'platform', { value: realPlatform, configurable: true });
  process.argv = realArgv;
  for (const [name, value] of savedEnv) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  savedEnv.clear();
}
