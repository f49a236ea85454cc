import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { describeUpdateError, updateMode, Updates, type UpdateOffer, type Updater } from '../../electron/app/updates.js';
import type { Logger } from '../../electron/core/logs/log.js';

/**
 * Updates with electron-updater's own code (its AppImage updater, run under Node with an app adapter
 * and Node's HTTP in place of Electron's net) against a feed on 127.0.0.1: what the user is offered
 * when the download matches the feed's sha512, and when it does not.
 */
const require = createRequire(createRequire(import.meta.url).resolve('electron-updater'));
const { AppImageUpdater } = require('electron-updater') as typeof import('electron-updater');
const { ElectronHttpExecutor } = require('electron-updater/out/electronHttpExecutor') as typeof import('electron-updater/out/electronHttpExecutor.js');

const folders: string[] = [];
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-updates-'));
  folders.push(dir);
  return dir;
};
after(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));

const servers: Server[] = [];
afterEach(() => servers.splice(0).forEach((s) => s.close()));
const realAppImage = process.env['APPIMAGE'];
afterEach(() => (realAppImage === undefined ? delete process.env['APPIMAGE'] : (process.env['APPIMAGE'] = realAppImage)));

// A script, so that the installer's run of the new AppImage (isForceRunAfter) runs something.
const RELEASE = Buffer.from('#!/bin/sh\n' + '# the AppImage of Outpost 0.2.0\n'.repeat(4096));
const sha512 = (bytes: Buffer) => createHash('sha512').update(bytes).digest('base64');

/** A generic feed: latest-linux.yml naming the release's sha512, and what it serves as the release. */
async function feed(served: Buffer | 'missing-yml', { version = '0.2.0', yml: given }: { version?: string; yml?: string } = {}): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const yml = given ?? [`version: ${version}`, 'files:', '  - url: Outpost-0.2.0.AppImage', `    sha512: ${sha512(RELEASE)}`, `    size: ${RELEASE.length}`, 'path: Outpost-0.2.0.AppImage', `sha512: ${sha512(RELEASE)}`, "releaseDate: '2026-01-01T00:00:00.000Z'", ''].join('\n');
  const server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requests.push(path);
    if (path === '/latest-linux.yml' && served !== 'missing-yml') return void res.end(yml);
    if (path === '/Outpost-0.2.0.AppImage' && served !== 'missing-yml') return void res.end(served);
    res.statusCode = 404;
    res.end('not found');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** electron-updater's own download code (its Electron executor), with Node's HTTP request where it would use Electron's net. */
class NodeHttp extends ElectronHttpExecutor {
  override createRequest(options: Parameters<typeof request>[0], callback: (response: unknown) => void) {
    return request(options, callback) as never;
  }
}

/** electron-updater's AppImage updater for a packed Outpost 0.1.0 reading the feed at `url`. */
function realUpdater(url: string, { appImage = 'Outpost-0.1.0.AppImage', quit = (): void => assert.fail('no quit without the user’s click') }: { appImage?: string; quit?: () => void } = {}): Updater {
  const dir = fresh();
  const config = join(dir, 'app-update.yml');
  writeFileSync(config, `provider: generic\nurl: ${url}\nupdaterCacheDirName: outpost-updater\n`);
  writeFileSync(join(dir, appImage), 'the running AppImage');
  process.env['APPIMAGE'] = join(dir, appImage);
  const app = {
    version: '0.1.0',
    name: 'Outpost',
    isPackaged: true,
    appUpdateConfigPath: config,
    userDataPath: join(dir, 'userData'),
    baseCachePath: join(dir, 'cache'),
    whenReady: () => Promise.resolve(),
    relaunch: () => assert.fail('no relaunch without the user’s click'),
    quit,
    onQuit: () => {},
  };
  const updater = new AppImageUpdater(null, app);
  (updater as unknown as { httpExecutor: NodeHttp }).httpExecutor = new NodeHttp();
  // A full download, as from a first release (no block map of the running file to diff against).
  updater.disableDifferentialDownload = true;
  return updater as unknown as Updater;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => void lines.push(m);
  return { lines, debug: push, info: push, warn: push, error: push };
}

/** Starts Updates on `updater` and resolves once it offered a version or logged a failure. */
async function run(updater: Updater): Promise<{ offer: UpdateOffer | undefined; lines: string[]; updates: Updates }> {
  const logger = recordingLogger();
  let offer: UpdateOffer | undefined;
  const settled = new Promise<void>((resolve) => {
    const updates = new Updates({ mode: { kind: 'install' }, updater: () => updater, logger, onChange: (o) => ((offer = o), resolve()) });
    updater.on('error', () => setImmediate(resolve));
    updates.start();
    ran.push(updates);
  });
  await settled;
  return { offer, lines: logger.lines, updates: ran.at(-1)! };
}
const ran: Updates[] = [];
afterEach(() => ran.splice(0).forEach((u) => u.dispose()));

describe('updates with electron-updater’s own code, against a feed on loopback', () => {
  it('a download that matches the feed’s sha512 is offered in the tray as “Restart to update to 0.2.0”', async () => {
    const { url, requests } = await feed(RELEASE);
    const { offer, lines } = await run(realUpdater(url));
    assert.deepEqual(offer, { version: "0.2.0", ready: true }, lines.join("\n"));
    assert.ok(requests.includes('/latest-linux.yml') && requests.includes('/Outpost-0.2.0.AppImage'));
    assert.ok(lines.some((l) => /version 0\.2\.0 downloaded and its sha512 matches/.test(l)));
  });

  it('a tampered download (one byte changed) is refused: nothing offered, the log says why, the file is not kept', async () => {
    const tampered = Buffer.from(RELEASE);
    tampered[1000]! ^= 1;
    const { url, requests } = await feed(tampered);
    const updater = realUpdater(url);
    const { offer, lines } = await run(updater);
    assert.ok(requests.includes('/Outpost-0.2.0.AppImage'), 'it was downloaded');
    assert.equal(offer, undefined, 'never offered');
    assert.ok(lines.some((l) => /updates: the downloaded update was refused: it does not match the sha512 the feed gives/.test(l)), lines.join('\n'));
    const pending = join((updater as unknown as { app: { baseCachePath: string } }).app.baseCachePath, 'outpost-updater', 'pending');
    const left = (() => {
      try {
        return readdirSync(pending);
      } catch {
        return [];
      }
    })();
    assert.ok(!left.some((f) => f.endsWith('.AppImage')), `no tampered file left to install: ${left.join(', ')}`);
  });

  it('“Restart to update” clicked three times installs once: the AppImage is still there (electron-updater resets its own guard on a refused second call)', async (t) => {
    const { url } = await feed(RELEASE);
    let quits = 0;
    // No version in its name: electron-updater installs over $APPIMAGE itself.
    const updater = realUpdater(url, { appImage: 'Outpost.AppImage', quit: () => void quits++ });
    const appImage = process.env['APPIMAGE']!;
    // electron-updater tells Electron's autoUpdater before it quits: the electron package's stand-in, with that one thing.
    const electronModule = require.resolve('electron');
    const { EventEmitter } = require('node:events') as typeof import('node:events');
    require.cache[electronModule] = { id: electronModule, filename: electronModule, loaded: true, exports: { autoUpdater: new EventEmitter() } } as NodeJS.Module;
    t.after(() => delete require.cache[electronModule]);
    const { offer, updates, lines } = await run(updater);
    assert.deepEqual(offer, { version: '0.2.0', ready: true }, lines.join('\n'));
    for (let click = 0; click < 3; click++) assert.equal(updates.install(), true);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(existsSync(appImage), 'the new AppImage is in place');
    assert.ok(readFileSync(appImage).equals(RELEASE));
    assert.equal(quits, 1);
    assert.equal(lines.filter((l) => /installing version 0\.2\.0/.test(l)).length, 1, lines.join('\n'));
  });

  it('a feed’s version with newlines around it (semver trims it; electron-updater passes it on as is) reaches the tray and the log trimmed', async () => {
    const { url } = await feed(RELEASE, { version: JSON.stringify('\n\n0.2.0\n\u2028') });
    const { offer, lines } = await run(realUpdater(url));
    assert.deepEqual(offer, { version: '0.2.0', ready: true }, lines.join('\n'));
    assert.ok(lines.every((l) => !/[\n\u2028]/.test(l)), lines.join('|'));
  });

  it('a broken latest-linux.yml from a feed whose address carries a user, a password and a token: the log says so without them', async () => {
    const { url } = await feed(RELEASE, { yml: ': : not yaml [\n' });
    const withToken = url.replace('http://', 'http://feeduser:PASSWORD123@') + '/?token=SECRET123';
    const { offer, lines } = await run(realUpdater(withToken));
    assert.equal(offer, undefined);
    const said = lines.join('\n');
    assert.match(said, /updates: the update check failed: Cannot parse update info from latest-linux\.yml in the latest release artifacts \(http:\/\/127\.0\.0\.1:\d+\/latest-linux\.yml\)/);
    assert.doesNotMatch(said, /PASSWORD123|SECRET123|feeduser/);
  });

  it('a feed with no latest-linux.yml (404) and a feed nobody answers are lines in the log, never thrown', async () => {
    const { url } = await feed('missing-yml');
    const missing = await run(realUpdater(url));
    assert.equal(missing.offer, undefined);
    assert.ok(missing.lines.some((l) => /updates: the update feed has no such file \(404\)/.test(l)), missing.lines.join('\n'));

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const nobody = await run(realUpdater(`http://127.0.0.1:${port}`));
    assert.equal(nobody.offer, undefined);
    assert.ok(nobody.lines.some((l) => /updates: could not reach the update feed \(ECONNREFUSED/.test(l)), nobody.lines.join('\n'));
  });
});

describe('Updates, the wrapper', () => {
  it('checks at start and every day, and a check that fails never throws', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let checks = 0;
    const updater = stubUpdater(() => (checks++, Promise.reject(new Error('offline'))));
    const updates = new Updates({ mode: { kind: 'install' }, updater: () => updater, logger: recordingLogger(), onChange: () => {} });
    updates.start();
    assert.equal(checks, 1);
    t.mock.timers.tick(24 * 60 * 60 * 1000 - 1);
    assert.equal(checks, 1);
    t.mock.timers.tick(1);
    t.mock.timers.tick(24 * 60 * 60 * 1000);
    assert.equal(checks, 3);
    updates.dispose();
    t.mock.timers.tick(24 * 60 * 60 * 1000);
    assert.equal(checks, 3, 'stopped once disposed');
  });

  it('install() before a download does nothing; after one it calls quitAndInstall once', () => {
    const installs: unknown[][] = [];
    const updater = stubUpdater(() => Promise.resolve(null), (...a) => void installs.push(a));
    const updates = new Updates({ mode: { kind: 'install' }, updater: () => updater, logger: recordingLogger(), onChange: () => {} });
    updates.start();
    assert.equal(updates.install(), false);
    updater.emit('update-downloaded', { version: '1.2.3' });
    assert.equal(updates.install(), true);
    assert.deepEqual(installs, [[false, true]]);
    updates.dispose();
  });

  it('a package manager’s install (deb) only announces: no download, and no “Restart to update”', () => {
    const updater = stubUpdater(() => Promise.resolve(null));
    let offer: UpdateOffer | undefined;
    const logger = recordingLogger();
    const updates = new Updates({ mode: updateMode({ isPackaged: true, platform: 'linux', env: {}, packageType: 'deb' }), updater: () => updater, logger, onChange: (o) => (offer = o) });
    updates.start();
    assert.equal(updater.autoDownload, false);
    assert.equal(updater.autoInstallOnAppQuit, false);
    updater.emit('update-available', { version: '0.3.0' });
    assert.deepEqual(offer, { version: '0.3.0', ready: false });
    assert.equal(updates.install(), false);
    assert.ok(logger.lines.some((l) => /installed as a \.deb package/.test(l)));
    updates.dispose();
  });

  it('each packing’s mode: dev run, AppImage, deb, rpm, pacman, snap, a bare Linux binary, Windows, macOS', () => {
    const mode = (platform: NodeJS.Platform, isPackaged: boolean, env: NodeJS.ProcessEnv = {}, packageType?: string) => updateMode({ platform, isPackaged, env, packageType }).kind;
    assert.equal(mode('win32', false), 'off');
    assert.equal(mode('linux', true, { APPIMAGE: '/home/u/Outpost.AppImage' }), 'install');
    for (const type of ['deb', 'rpm', 'pacman']) assert.equal(mode('linux', true, {}, type), 'notify');
    assert.equal(mode('linux', true, { SNAP: '/snap/outpost/1', APPIMAGE: '/x' }), 'off');
    assert.equal(mode('linux', true), 'off');
    assert.equal(mode('win32', true), 'install');
    assert.equal(mode('darwin', true), 'notify', 'an unsigned app: Squirrel.Mac would refuse it after Outpost had quit');
  });

  it('errors in words', () => {
    const e = (message: string, extra: object = {}) => describeUpdateError(Object.assign(new Error(message), extra));
    assert.match(e('net::ERR_INTERNET_DISCONNECTED'), /could not reach the update feed \(net::ERR_INTERNET_DISCONNECTED\)/);
    assert.match(e('New version 0.2.0 is not signed by the application owner', { code: 'ERR_UPDATER_INVALID_SIGNATURE' }), /code signature is not the publisher's/);
    assert.match(e('x\n'.repeat(10_000)), /^the update check failed: x$/);
  });
});

function stubUpdater(check: () => Promise<unknown>, quitAndInstall: (...a: unknown[]) => void = () => {}) {
  const { EventEmitter } = require('node:events') as typeof import('node:events');
  return Object.assign(new EventEmitter(), { autoDownload: true, autoInstallOnAppQuit: true, logger: null as unknown, checkForUpdates: check, quitAndInstall });
}

describe('the feed packed into app-update.yml', () => {
  it('is a generic feed whose address electron-builder takes from OUTPOST_UPDATE_URL at packing, and refuses to pack without it', () => {
    const { readFileSync } = require('node:fs') as typeof import('node:fs');
    const build = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { build: { publish: Array<{ provider: string; url: string }> } }).build;
    assert.deepEqual(build.publish, [{ provider: 'generic', url: '${env.OUTPOST_UPDATE_URL}' }]);
    // electron-builder's own macro expansion (app-builder-lib), as PublishManager applies it to each publish option.
    const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder'));
    const fromLib = createRequire(fromBuilder.resolve('app-builder-lib/package.json'));
    const { expandMacro } = fromLib('./out/util/macroExpander.js') as { expandMacro(pattern: string, arch: string | null, appInfo: object): string };
    const saved = process.env['OUTPOST_UPDATE_URL'];
    try {
      process.env['OUTPOST_UPDATE_URL'] = 'https://downloads.example.com/outpost';
      assert.equal(expandMacro(build.publish[0]!.url, null, {}), 'https://downloads.example.com/outpost');
      delete process.env['OUTPOST_UPDATE_URL'];
      assert.throws(() => expandMacro(build.publish[0]!.url, null, {}), /env OUTPOST_UPDATE_URL is not defined/);
    } finally {
      if (saved !== undefined) process.env['OUTPOST_UPDATE_URL'] = saved;
    }
  });
});
