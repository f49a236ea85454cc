import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { loadMain, restoreProcess, type FakeElectron, type FakeOptions, type FakeWindow } from '../helpers/fake-electron.js';

/**
 * The desktop app's main process (electron/main.ts), loaded under Node with a recording fake
 * `electron` and the real core: what a user sees at launch, on a second launch, when the
 * window closes, when the renderer crashes and at quit — per OS where the OS changes it.
 */
const MAIN = new URL('../../electron/main.ts', import.meta.url).pathname;
const folders: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-desktop-'));
  folders.push(dir);
  return dir;
};
after(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));
afterEach(() => restoreProcess());

async function launch(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
  const dir = fresh();
  const electron = await loadMain(MAIN, { platform: 'linux', userData: join(dir, 'data'), logs: join(dir, 'logs'), home: join(dir, 'home'), ...options });
  electron.fireReady();
  return electron;
}

/**
 * Launched and settled: the tray is up. What start() does after it runs in the same turn, so
 * it is done by the time this resumes.
 */
async function started(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
  const electron = await launch(options);
  await electron.until(() => electron.trays.length > 0 || electron.exitCode !== undefined);
  assert.equal(electron.exitCode, undefined, `started: ${JSON.stringify(electron.calls('dialog.showErrorBox')[0]?.args)}`);
  return electron;
}

/** Quit from the tray: the core is closed, then the app quits. */
async function quit(electron: FakeElectron): Promise<void> {
  electron.trays[0]!.choose('Quit');
  await electron.until(() => electron.quitted);
}

const window = (electron: FakeElectron): FakeWindow => electron.windows.at(-1)!;

describe('desktop main: launch', () => {
  it('first run: no default menu, schemes before ready, the window shown on ready-to-show with the theme’s background', async () => {
    const electron = await started({ dark: true });
    const menu = electron.calls('Menu.setApplicationMenu')[0];
    assert.ok(menu && menu.args[0] === null && !menu.ready, 'the default menu (Reload, DevTools) is removed before ready');
    assert.equal(electron.calls('protocol.registerSchemesAsPrivileged')[0]?.ready, false);
    assert.equal(electron.calls('protocol.handle')[0]?.ready, true);
    const win = window(electron);
    assert.equal(win.options['show'], false);
    assert.equal(win.options['backgroundColor'], '#18181a', 'dark theme: the dark page colour, no white flash');
    assert.equal(win.visible, false, 'not shown before its first paint');
    win.emit('ready-to-show');
    assert.equal(win.visible, true);
    // The first load in this process: a library that registers IPC at import (electron-log/main does) shows here.
    assert.deepEqual([...electron.ipcListeners.keys(), ...electron.ipcHandlers.keys()].filter((c) => !c.startsWith('outpost:')), []);
    await quit(electron);
  });

  it('light theme: the light background', async () => {
    const electron = await started({ dark: false });
    assert.equal(window(electron).options['backgroundColor'], '#f7f7f5');
    await quit(electron);
  });

  it('a failed start says why in a dialog and exits, instead of holding the single-instance lock with no window', async () => {
    const dir = fresh();
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, 'x');
    const electron = await launch({ env: { OUTPOST_DATA_DIR: join(notAFolder, 'data') } });
    await electron.until(() => electron.exitCode !== undefined);
    const [title, content] = electron.calls('dialog.showErrorBox')[0]?.args ?? [];
    assert.match(String(title), /Outpost could not start/);
    assert.match(String(content), /ENOTDIR|not a directory/);
    assert.equal(electron.exitCode, 1);
  });

  it('a second launch brings the window back', async () => {
    const electron = await started();
    const win = window(electron);
    win.emit('ready-to-show');
    win.userClose();
    assert.equal(win.visible, false, 'closed to the tray');
    assert.equal(win.destroyed, false);
    electron.app.emit('second-instance', {}, [], '/');
    assert.equal(win.visible, true);
    await quit(electron);
  });

  it('macOS: opening the app again from the Finder (activate) shows the window', async () => {
    const electron = await started({ platform: 'darwin' });
    const win = window(electron);
    win.emit('ready-to-show');
    win.userClose();
    assert.equal(win.visible, false);
    electron.app.emit('activate', {}, false);
    assert.equal(win.visible, true);
    await quit(electron);
  });

  it('closing the window keeps Outpost in the tray and says so once; Quit closes the core and quits', async () => {
    const electron = await started();
    const win = window(electron);
    win.emit('ready-to-show');
    win.userClose();
    win.emit('ready-to-show');
    electron.trays[0]!.choose('Open Outpost');
    win.userClose();
    assert.equal(electron.notifications.filter((n) => /still running/.test(n.options.title)).length, 1);
    await quit(electron);
    assert.equal(electron.quitted, true);
  });

  it('a crashed renderer is reloaded once and reported; a second crash does not loop', async () => {
    const electron = await started();
    const win = window(electron);
    win.webContents.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 139 });
    assert.equal(win.webContents.reloads, 1);
    assert.ok(electron.notifications.some((n) => /window stopped/i.test(n.options.title)), 'the user is told');
    const log = readFileSync(join(electron.options.logs, 'outpost.log'), 'utf8');
    assert.match(log, /renderer.*crashed/i);
    win.webContents.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 139 });
    assert.equal(win.webContents.reloads, 1, 'no reload loop');
    await quit(electron);
  });
});

describe('desktop main: security', () => {
  it('electron-log registers no IPC listener and no preload of its own', async () => {
    const electron = await started();
    assert.deepEqual(
      [...electron.ipcListeners.keys(), ...electron.ipcHandlers.keys()].filter((c) => !c.startsWith('outpost:')),
      [],
      'only the contract’s channels',
    );
    assert.equal(electron.calls('session.registerPreloadScript').length + electron.calls('session.setPreloads').length, 0);
    await quit(electron);
  });

  it('the clipboard: writing granted to the app’s own main frame only; every other permission denied', async () => {
    const electron = await started();
    const ask = (permission: string, details: Record<string, unknown>) => {
      let granted: boolean | undefined;
      electron.permission.request!({}, permission, (g) => (granted = g), details);
      return granted;
    };
    const ours = { requestingUrl: 'app://outpost/index.html', isMainFrame: true };
    assert.equal(ask('clipboard-sanitized-write', ours), true);
    assert.equal(ask('clipboard-sanitized-write', { requestingUrl: 'app://outpost/index.html', isMainFrame: false }), false, 'not an iframe');
    assert.equal(ask('clipboard-sanitized-write', { requestingUrl: 'https://evil.example/', isMainFrame: true }), false);
    assert.equal(ask('clipboard-read', ours), false, 'reading the clipboard is not needed');
    assert.equal(ask('media', ours), false);
    assert.equal(electron.permission.check!({}, 'clipboard-sanitized-write', 'app://outpost', { requestingUrl: 'app://outpost/index.html', isMainFrame: true }), true);
    assert.equal(electron.permission.check!({}, 'clipboard-sanitized-write', 'https://evil.example', { requestingUrl: 'https://evil.example/', isMainFrame: true }), false);
    assert.equal(electron.permission.check!({}, 'notifications', 'app://outpost', { requestingUrl: 'app://outpost/index.html', isMainFrame: true }), false);
    await quit(electron);
  });
});

describe('desktop main: the user’s network', () => {
  it('control-plane calls go through Electron’s net.fetch (the system’s proxy, PAC and certificates), not Node’s fetch', async () => {
    const electron = await started();
    const win = window(electron);
    const fromOurWindow = { sender: win.webContents, senderFrame: { url: 'app://outpost/index.html', parent: null } };
    // Port 9 (discard) on loopback: nothing answers; what matters is which stack made the call.
    const reply = (await electron.ipcHandlers.get('outpost:account.connect')!(fromOurWindow, { apiKey: 'sk-ant-test-0123456789', apiBaseUrl: 'http://127.0.0.1:9' })) as { error?: { message: string } };
    assert.match(reply.error?.message ?? '', /127\.0\.0\.1:9/);
    assert.ok(electron.calls('net.fetch').some((c) => String(c.args[0]).startsWith('http://127.0.0.1:9/v1/environments')), 'the call went through net.fetch');
    await quit(electron);
  });
});

describe('desktop main: each OS', () => {
  it('Windows: the AppUserModelID matches the installer’s, and a left click on the tray opens the window', async () => {
    const electron = await started({ platform: 'win32' });
    const appId = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { build: { appId: string } }).build.appId;
    assert.deepEqual(electron.calls('app.setAppUserModelId')[0]?.args, [appId]);
    const win = window(electron);
    win.emit('ready-to-show');
    win.userClose();
    electron.trays[0]!.emit('click');
    assert.equal(win.visible, true);
    await quit(electron);
  });

  it('macOS: no dock icon, Template tray images, and an Edit menu so copy and paste keys work', async () => {
    const electron = await started({ platform: 'darwin' });
    assert.equal(electron.calls('app.dock.hide').length, 1);
    assert.match(electron.trays[0]!.image!.path, /Template\.png$/);
    const template = (electron.applicationMenu as { template: Array<{ role?: string }> }).template;
    assert.ok(template.some((m) => m.role === 'editMenu'));
    assert.ok(!JSON.stringify(template).includes('toggleDevTools'));
    await quit(electron);
  });

  it('Linux: the window’s own menu holds Quit (stock GNOME shows no tray icon)', async () => {
    const electron = await started({ platform: 'linux' });
    const menu = window(electron).menu as { template: Array<{ submenu?: Array<{ label?: string; role?: string; click?: () => void }> }> };
    const quitItem = menu.template.flatMap((m) => m.submenu ?? []).find((i) => i.label === 'Quit Outpost');
    assert.ok(quitItem?.click, 'a Quit in the window');
    quitItem.click();
    await electron.until(() => electron.quitted);
  });

  it('started at login (--hidden), it stays in the tray', async () => {
    const electron = await started({ argv: ['--hidden'] });
    assert.ok(electron.windows.every((w) => !w.visible));
    electron.windows.forEach((w) => w.emit('ready-to-show'));
    assert.ok(electron.windows.every((w) => !w.visible), 'not even once it has loaded');
    await quit(electron);
  });

  it('macOS: opened at login, it stays in the tray', async () => {
    const electron = await started({ platform: 'darwin', loginItem: { wasOpenedAtLogin: true } });
    electron.windows.forEach((w) => w.emit('ready-to-show'));
    assert.ok(electron.windows.every((w) => !w.visible));
    await quit(electron);
  });
});

describe('desktop main: updates', () => {
  const menuLabels = (electron: FakeElectron) => electron.trays[0]!.menu!.template.map((i) => i.label).filter(Boolean);
  const appLog = (electron: FakeElectron) => readFileSync(join(electron.options.logs, 'outpost.log'), 'utf8');

  it('a development run (not packaged) never asks the feed, and says so in the log', async () => {
    const electron = await started();
    assert.equal(electron.calls('updater.checkForUpdates').length, 0);
    assert.match(appLog(electron), /updates: off, a development run \(not packaged\)/);
    await quit(electron);
  });

  it('packed: checked at start and daily; the menu offers the restart only once a version is downloaded; nothing installs at quit', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const electron = await started({ platform: 'win32', packaged: true });
    assert.equal(electron.calls('updater.checkForUpdates').length, 1, 'at start');
    assert.equal(electron.updater.autoInstallOnAppQuit, false, 'no install behind the user’s back at quit');
    assert.equal(electron.updater.autoDownload, true);
    t.mock.timers.tick(23 * 60 * 60 * 1000);
    assert.equal(electron.calls('updater.checkForUpdates').length, 1);
    t.mock.timers.tick(60 * 60 * 1000);
    assert.equal(electron.calls('updater.checkForUpdates').length, 2, 'a day later');

    electron.updater.emit('update-available', { version: '0.2.0' });
    assert.ok(!menuLabels(electron).some((l) => /update/i.test(l!)), 'not offered while it downloads');
    electron.updater.emit('update-downloaded', { version: '0.2.0' });
    assert.ok(menuLabels(electron).includes('Restart to update to 0.2.0'));
    t.mock.timers.reset();
    await quit(electron);
    assert.equal(electron.calls('updater.quitAndInstall').length, 0, 'Quit is not an update');
  });

  it('“Restart to update” closes the core as Quit does, then runs the installer', async () => {
    const electron = await started({ platform: 'win32', packaged: true });
    electron.updater.emit('update-downloaded', { version: '0.2.0' });
    electron.trays[0]!.choose('Restart to update to 0.2.0');
    await electron.until(() => electron.quitted);
    assert.deepEqual(electron.calls('updater.quitAndInstall')[0]?.args, [false, true], 'not silent, and Outpost runs again after');
    assert.match(appLog(electron), /installing version 0\.2\.0/);
  });

  it('a feed that cannot be reached or answers 404 is a line in the log: no dialog, no notification, no crash', async () => {
    const dir = fresh();
    const electron = await loadMain(MAIN, { platform: 'win32', packaged: true, userData: join(dir, 'data'), logs: join(dir, 'logs'), home: join(dir, 'home') });
    electron.updater.nextCheck = Object.assign(new Error('getaddrinfo ENOTFOUND updates.example'), { code: 'ENOTFOUND' });
    electron.fireReady();
    await electron.until(() => electron.trays.length > 0);
    await electron.until(() => /could not reach the update feed/.test(appLog(electron)));
    electron.updater.emit('error', Object.assign(new Error('Cannot find latest.yml in the latest release artifacts (https://updates.example/latest.yml): HttpError: 404'), { statusCode: 404 }));
    assert.match(appLog(electron), /the update feed has no such file \(404\)/);
    assert.equal(electron.calls('dialog.showErrorBox').length + electron.calls('dialog.showMessageBox').length, 0);
    assert.ok(!electron.notifications.some((n) => /update/i.test(`${n.options.title} ${n.options.body}`)));
    assert.equal(electron.exitCode, undefined);
    await quit(electron);
  });
});

describe('desktop main: where the data lives', () => {
  it('Linux: settings in userData, sessions’ data and the app’s log in ~/.local/share/outpost; what the old lower-case userData held moves', async () => {
    const dir = fresh();
    const home = join(dir, 'home');
    const config = join(home, '.config');
    // Before productName was Outpost, Electron's userData was ~/.config/outpost.
    const former = join(config, 'outpost');
    mkdirSync(join(former, 'workspaces', 'env_1.work_1'), { recursive: true });
    writeFileSync(join(former, 'settings.json'), JSON.stringify({ retentionDays: 3 }));
    writeFileSync(join(former, 'history.jsonl'), '');
    const electron = await launch({ home, appData: config, userData: join(config, 'Outpost'), logs: join(config, 'Outpost', 'logs') });
    await electron.until(() => electron.trays.length > 0);
    const data = join(home, '.local', 'share', 'outpost');
    assert.ok(existsSync(join(data, 'workspaces', 'env_1.work_1')), 'the workspace moved');
    assert.equal(JSON.parse(readFileSync(join(config, 'Outpost', 'settings.json'), 'utf8')).retentionDays, 3, 'the settings moved to the new userData');
    assert.equal(electron.options.logs, join(data, 'logs'));
    assert.match(readFileSync(join(data, 'logs', 'outpost.log'), 'utf8'), /data folder: moved Outpost's data from .*\.config\/outpost to .*\.local\/share\/outpost/);
    assert.ok(!existsSync(join(config, 'Outpost', 'workspaces')), 'no sessions’ data in the config folder');
    await quit(electron);
  });

  it('Windows: sessions’ data under %LOCALAPPDATA%\\Outpost, settings in Roaming userData', async () => {
    const dir = fresh();
    const roaming = join(dir, 'Roaming', 'Outpost');
    // What path.win32 makes of C:\Users\ada\AppData\Local is one relative name on this machine: made in a temporary working folder.
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const electron = await launch({ platform: 'win32', home: 'C:\\Users\\ada', userData: roaming, env: { OUTPOST_DATA_DIR: undefined, LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' } });
      await electron.until(() => electron.trays.length > 0);
      const data = join(dir, 'C:\\Users\\ada\\AppData\\Local\\Outpost');
      assert.ok(existsSync(data), 'C:\\Users\\ada\\AppData\\Local\\Outpost');
      // Joined by Node's path of this machine here; of Windows there.
      assert.match(String(electron.calls('app.setAppLogsPath')[0]?.args[0]), /^C:\\Users\\ada\\AppData\\Local\\Outpost[\\/]logs$/);
      assert.ok(!existsSync(join(roaming, 'workspaces')), 'nothing of the sessions in Roaming');
      await quit(electron);
    } finally {
      process.chdir(cwd);
    }
  });
});
