import { extractAll, listPackage, statFile } from '@electron/asar';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { threadScriptOnDisk } from '../../electron/core/base/thread.js';
import { makeElectronDist } from '../helpers/electron-dist.js';
import { restoreProcess } from '../helpers/fake-electron.js';
import { MainLauncher } from '../helpers/main-launch.js';

/**
 * The app as electron-builder packs it (`--linux dir --x64`, package.json's own build config, a
 * stand-in Electron distribution: helpers/electron-dist.ts): its app.asar unpacked and its main
 * process run under Node with the recording fake `electron` — first run, a failed start, close to the
 * tray, activate, quit — from the packed files, not the source tree. The installers themselves (dmg,
 * nsis, deb, rpm) are built by CI on each OS (.github/workflows/dist.yml).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = join(ROOT, 'dist/electron/main.js');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; productName: string; main: string; build: { electronFuses: Record<string, boolean> } };
// @electron/fuses as electron-builder has it (its dependency, not ours).
const fromLib = createRequire(createRequire(require.resolve('electron-builder')).resolve('app-builder-lib/package.json'));
const fuses = fromLib('@electron/fuses') as { getCurrentFuseWire(path: string): Promise<Record<number, number>>; FuseV1Options: Record<string, number> };

const work = mkdtempSync(join(tmpdir(), 'outpost-packaged-'));
const appOut = join(work, 'release', 'linux-unpacked');
const asar = join(appOut, 'resources', 'app.asar');
const app = join(work, 'app');
const FEED = 'http://127.0.0.1:9/outpost-updates';
const main = new MainLauncher(join(app, pkg.main));
after(() => (main.dispose(), rmSync(work, { recursive: true, force: true })));
afterEach(() => restoreProcess());

describe('the packaged app', { skip: !existsSync(BUILT) && 'not built (npm run build)' }, () => {
  before(async () => {
    const electronVersion = (require('electron/package.json') as { version: string }).version;
    const dist = makeElectronDist(join(work, 'electron-dist'), electronVersion);
    const cli = require.resolve('electron-builder/cli.js');
    // The update feed is packing's to name (package.json build.publish); nothing is asked of it here.
    const env = { ...process.env, OUTPOST_UPDATE_URL: FEED };
    await promisify(execFile)(process.execPath, [cli, '--linux', 'dir', '--x64', `-c.electronDist=${dist}`, `-c.directories.output=${join(work, 'release')}`, '--publish', 'never'], { cwd: ROOT, env });
    extractAll(asar, app);
  });

  it('holds the app’s own files and keytar, and nothing else of the source tree', () => {
    const entries = listPackage(asar, { isPack: false }).map((e) => e.split(sep).join('/'));
    const packed = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as typeof pkg;
    assert.equal(packed.productName, 'Outpost');
    assert.equal(packed.version, pkg.version);
    for (const file of [packed.main, 'dist/electron/preload.cjs', 'dist/electron/search-worker.js', 'dist/renderer/index.html', 'dist/session/runner.mjs', 'session/Dockerfile', 'session/keeper.sh', 'build/icon.png', 'build/tray/off.png']) {
      assert.ok(entries.includes(`/${file}`), `${file} is packed`);
    }
    assert.ok(entries.some((e) => /^\/dist\/renderer\/assets\/.+\.js$/.test(e)), 'the renderer’s scripts are packed');
    const strays = entries.filter((e) => /^\/(playground|test|bench|electron|renderer|shared|scripts|deploy|dist\/playground|dist\/shared|dist\/electron\/(core|app))(\/|$)|\.(ts|tsx|map)$/.test(e));
    assert.deepEqual(strays, [], 'no sources, playground, tests, tsc output or source maps');
    const modules = new Set(entries.filter((e) => e.startsWith('/node_modules/')).map((e) => e.split('/')[2]));
    assert.deepEqual([...modules], ['keytar'], 'the bundle carries every other package');
  });

  it('keeps keytar’s native binary out of the ASAR, where it can be loaded, and loads it', () => {
    const binary = 'node_modules/keytar/build/Release/keytar.node';
    assert.equal((statFile(asar, binary) as { unpacked?: boolean }).unpacked, true);
    assert.ok(existsSync(join(`${asar}.unpacked`, binary)), 'in app.asar.unpacked');
    const fromMain = createRequire(join(app, pkg.main));
    assert.ok(fromMain.resolve('keytar').startsWith(app), 'resolved inside the packed app');
    assert.equal(typeof (fromMain('keytar') as { getPassword: unknown }).getPassword, 'function');
  });

  it('keeps the worker threads’ scripts out of the ASAR, where the packed main starts them', async () => {
    for (const thread of ['search-worker', 'defuse-thread', 'trash-thread']) {
      assert.equal((statFile(asar, `dist/electron/${thread}.js`) as { unpacked?: boolean }).unpacked, true, `${thread} unpacked`);
    }
    const started = fileURLToPath(threadScriptOnDisk(new URL('./search-worker.js', pathToFileURL(join(asar, pkg.main)))));
    assert.equal(started, join(`${asar}.unpacked`, 'dist/electron/search-worker.js'));
    const log = join(work, 'search.log');
    writeFileSync(log, 'one\nTwo needle\nthree\nneedle four\n');
    const worker = new Worker(started, { workerData: { path: log, bytes: statSync(log).size, query: 'NEEDLE', limit: 10 } });
    const [result] = (await once(worker, 'message')) as [{ matches: number[]; total: number }];
    assert.deepEqual(result, { matches: [1, 3], total: 2 }, 'the packed search thread runs on its own');
    // The defusing pass, as packed: a session's fifo is removed and a setuid bit stripped.
    const workspace = join(work, 'workspace');
    mkdirSync(workspace);
    execFileSync('mkfifo', [join(workspace, 'pipe')]);
    writeFileSync(join(workspace, 'tool'), '', { mode: 0o4755 });
    const defuse = new Worker(fileURLToPath(threadScriptOnDisk(new URL('./defuse-thread.js', pathToFileURL(join(asar, pkg.main))))), { workerData: workspace });
    const [defused] = (await once(defuse, 'message')) as [{ removed: string[]; stripped: string[] }];
    assert.deepEqual([defused.removed.length, defused.stripped.length], [1, 1], JSON.stringify(defused));
    assert.equal(statSync(join(workspace, 'tool')).mode & 0o7777, 0o755);
  });

  it('lets no Windows user install into a folder an update would remove whole with the data in it', () => {
    // NSIS appends the app's name to a chosen folder: %LOCALAPPDATA% would become the data folder, which uninstall (each update) removes.
    assert.equal((pkg.build as unknown as { nsis: { allowToChangeInstallationDirectory: boolean } }).nsis.allowToChangeInstallationDirectory, false);
  });

  it('flips the fuses package.json asks for in the packed executable', async () => {
    const wire = await fuses.getCurrentFuseWire(join(appOut, 'outpost'));
    const flags = Object.entries(pkg.build.electronFuses).filter(([name]) => name !== 'resetAdHocDarwinSignature');
    assert.ok(flags.length >= 7);
    for (const [name, on] of flags) {
      const index = fuses.FuseV1Options[name[0]!.toUpperCase() + name.slice(1)];
      assert.equal(typeof index, 'number', `${name} is a fuse`);
      assert.equal(wire[index!], on ? 0x31 : 0x30, `${name} is ${on ? 'on' : 'off'}`);
    }
  });

  it('first run, close to the tray, activate, quit: from the packed files', async () => {
    const electron = await main.firstRunToQuit({ packaged: true });
    const preload = (electron.windows[0]!.options.webPreferences as { preload: string }).preload;
    assert.ok(preload.startsWith(app) && existsSync(preload), `the preload (${preload}) is the packed one`);
    const tray = electron.calls('new Tray')[0]!.args[0] as string;
    assert.ok(tray.startsWith(app) && existsSync(tray), `the tray icon (${tray}) is the packed one`);
  });

  it('a failed start: a dialog with the reason, and exit', async () => {
    await main.failedStart({ packaged: true });
  });
});
