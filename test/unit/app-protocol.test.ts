import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { APP_INDEX_URL, APP_SCHEME_PRIVILEGES, appFileHandler, CONTENT_SECURITY_POLICY, isAppUrl } from '../../electron/app/app-protocol.js';

/** A CSP as directive → sources, to compare policies directive by directive. */
function directives(policy: string): Map<string, string> {
  return new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources.join(' ')]),
  );
}

describe('app:// protocol handler', () => {
  // <tmp>/renderer is the served root; <tmp>/secret.txt and <tmp>/outside/ lie next to it.
  const base = mkdtempSync(join(tmpdir(), 'outpost-app-protocol-'));
  const root = join(base, 'renderer');
  const serve = appFileHandler(root);
  const get = (url: string, method = 'GET') => serve({ url, method });

  before(() => {
    mkdirSync(join(root, 'assets'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Outpost</title>');
    writeFileSync(join(root, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(root, 'assets', 'index-abc.css'), 'body{}');
    writeFileSync(join(root, 'assets', 'blob.bin'), 'x');
    writeFileSync(join(base, 'secret.txt'), 'SECRET');
    writeFileSync(join(base, 'outside', 'secret.txt'), 'SECRET');
    symlinkSync(join(base, 'secret.txt'), join(root, 'leak.txt')); // a file link out of the root
    symlinkSync(join(base, 'outside'), join(root, 'linked')); // a folder link out of the root
    symlinkSync(join(root, 'assets', 'index-abc.js'), join(root, 'alias.js')); // a link that stays inside
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('serves the renderer’s files with their type and the CSP header', async () => {
    for (const [url, type, body] of [
      [APP_INDEX_URL, 'text/html; charset=utf-8', '<!doctype html><title>Outpost</title>'],
      ['app://outpost/', 'text/html; charset=utf-8', '<!doctype html><title>Outpost</title>'],
      ['app://outpost/index.html?view=logs#item', 'text/html; charset=utf-8', '<!doctype html><title>Outpost</title>'],
      ['app://outpost/assets/index-abc.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
      ['app://outpost/assets/index-abc.css', 'text/css; charset=utf-8', 'body{}'],
      ['app://outpost/assets/blob.bin', 'application/octet-stream', 'x'],
      ['app://outpost/alias.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
    ]) {
      const response = await get(url!);
      assert.equal(response.status, 200, url);
      assert.equal(response.headers.get('content-type'), type, url);
      assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, url);
      assert.equal(response.headers.get('x-content-type-options'), 'nosniff', url);
      assert.equal(await response.text(), body, url);
    }
  });

  it('answers 404, and never a byte of the secret, for every way out of the root', async () => {
    const abs = join(base, 'secret.txt');
    const hostile = [
      'app://outpost/../secret.txt',
      'app://outpost/assets/../../secret.txt',
      'app://outpost/%2e%2e/secret.txt',
      'app://outpost/%2E%2E/secret.txt',
      'app://outpost/.%2e/secret.txt',
      'app://outpost/..%2fsecret.txt',
      'app://outpost/assets/..%2f..%2fsecret.txt',
      'app://outpost/%2e%2e%2fsecret.txt',
      'app://outpost/assets/..%2findex.html', // `..` is refused even where it would land inside
      'app://outpost/%252e%252e/secret.txt', // double-encoded: decoded once, it is a file named "%2e%2e"
      'app://outpost/..\\secret.txt',
      'app://outpost/%2e%2e%5csecret.txt',
      'app://outpost/assets\\..\\..\\secret.txt',
      `app://outpost/${abs}`,
      `app://outpost/${encodeURIComponent(abs)}`,
      `app://outpost//${abs}`,
      'app://outpost/C:/Windows/win.ini',
      'app://outpost/C:%5cWindows%5cwin.ini',
      'app://outpost/leak.txt', // symlink to a file outside
      'app://outpost/linked/secret.txt', // through a symlinked folder outside
      'app://outpost/index.html%00.png',
      'app://outpost/%E0%A4%A', // malformed percent-encoding
      'app://outpost/assets', // a folder
      'app://outpost/assets/',
      'app://outpost/missing.js',
      // Not the app at all: another host, another scheme, credentials, a port.
      'app://evil/index.html',
      'app://outpost.evil/index.html',
      'app://user@outpost/index.html',
      'app://outpost:8080/index.html',
      `file://${join(root, 'index.html')}`,
      'https://outpost/index.html',
      'not a url',
    ];
    for (const url of hostile) {
      const response = await get(url);
      assert.equal(response.status, 404, url);
      assert.equal(response.headers.get('content-security-policy'), CONTENT_SECURITY_POLICY, `${url}: refusals carry the CSP too`);
      const body = await response.text();
      assert.doesNotMatch(body, /SECRET/, url);
      assert.doesNotMatch(body, new RegExp(base), `${url}: the answer names no path`);
    }
  });

  it('answers GET and HEAD only', async () => {
    assert.equal((await get(APP_INDEX_URL, 'POST')).status, 405);
    assert.equal((await get(APP_INDEX_URL, 'PUT')).status, 405);
    const head = await get(APP_INDEX_URL, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(await head.text(), '');
  });

  it('answers 404 when the renderer was never built', async () => {
    const response = await appFileHandler(join(base, 'no-such-folder'))({ url: APP_INDEX_URL, method: 'GET' });
    assert.equal(response.status, 404);
  });

  it('registers app:// as standard and secure, without CORS or a CSP bypass', () => {
    assert.deepEqual(APP_SCHEME_PRIVILEGES, { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } });
  });
});

describe('what counts as the app', () => {
  it('app://outpost/… only', () => {
    assert.equal(isAppUrl('app://outpost/index.html'), true);
    assert.equal(isAppUrl('app://outpost/index.html#logs'), true);
    for (const url of [
      'file:///opt/outpost/dist/renderer/index.html',
      'app://evil/index.html',
      'app://outpost.evil/',
      'app://outpost:1/',
      'app://a:b@outpost/',
      'app:outpost/index.html',
      'http://outpost/',
      'https://outpost/',
      'about:blank',
      'javascript:alert(1)',
      '',
    ]) {
      assert.equal(isAppUrl(url), false, url);
    }
  });
});

describe('content security policy', () => {
  const header = directives(CONTENT_SECURITY_POLICY);
  const metaContent = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8'))?.[1];

  it('the header is strict: own origin only, no plugins, no <base>, no form posts, no framing', () => {
    assert.equal(header.get('default-src'), "'self'");
    assert.equal(header.get('script-src'), "'self'");
    assert.equal(header.get('style-src'), "'self'");
    assert.equal(header.get('connect-src'), "'self'");
    assert.equal(header.get('object-src'), "'none'");
    assert.equal(header.get('base-uri'), "'none'");
    assert.equal(header.get('form-action'), "'none'");
    assert.equal(header.get('frame-ancestors'), "'none'");
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /unsafe-|\*|https?:/, 'no unsafe-inline/eval, no wildcard, no remote origin');
  });

  it('renderer/index.html’s meta CSP has object-src, base-uri and form-action none, and agrees with the header', () => {
    assert.ok(metaContent, 'renderer/index.html has a CSP meta');
    const meta = directives(metaContent);
    for (const name of ['object-src', 'base-uri', 'form-action']) assert.equal(meta.get(name), "'none'", name);
    assert.equal(meta.get('default-src'), "'self'");
    // Both apply to the window (the browser enforces each): they must not disagree on what the page needs.
    for (const [name, sources] of meta) assert.equal(header.get(name), sources, `${name} is the same in the meta and the header`);
  });
});

describe('Electron fuses', () => {
  // electron-builder flips these in the packaged binary (electronFuses, via @electron/fuses) just
  // before signing; packaged-app.test.ts packs the app and reads them back from the executable. This
  // proves the configuration, checked by the installed electron-builder's own schema validator.
  const build = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { build: Record<string, unknown> }).build;
  const fuses = build.electronFuses as Record<string, boolean>;

  it('are set at packaging: no run-as-node, no NODE_OPTIONS or --inspect, encrypted cookies, the app only from a verified ASAR, no file:// extras', () => {
    assert.deepEqual(fuses, {
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      grantFileProtocolExtraPrivileges: false,
      // An unsigned macOS build: flipping the fuses breaks the arm64 binary's ad hoc signature, and
      // macOS will not start it unless it is signed again (@electron/fuses README, "Apple Silicon").
      // A signed build is signed over it.
      resetAdHocDarwinSignature: true,
    });
    assert.notEqual(build.asar, false, 'onlyLoadAppFromAsar needs the app packed in an ASAR');
  });

  it('electron-builder’s own validator accepts the build config, and would refuse a misspelt fuse', async () => {
    // Resolved the way electron-builder resolves them (they are its dependencies, not ours).
    const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder'));
    const fromLib = createRequire(fromBuilder.resolve('app-builder-lib/package.json'));
    const { validateConfiguration } = fromLib('./out/util/config/config.js') as { validateConfiguration(config: unknown, logger: unknown): Promise<void> };
    const { DebugLogger } = fromLib('builder-util') as { DebugLogger: new () => unknown };
    await validateConfiguration(build, new DebugLogger());
    await assert.rejects(validateConfiguration({ ...build, electronFuses: { ...fuses, runAsNod: false } }, new DebugLogger()), /does not match the API schema/);
  });

  it('macOS: a tray app with no Dock icon, the hardened runtime, and V8’s JIT its one entitlement', () => {
    const mac = build.mac as { hardenedRuntime: boolean; entitlements: string; entitlementsInherit: string; extendInfo: Record<string, unknown> };
    assert.equal(mac.extendInfo.LSUIElement, true);
    assert.equal(mac.hardenedRuntime, true);
    const plist = readFileSync(new URL(`../../${mac.entitlements}`, import.meta.url), 'utf8');
    assert.deepEqual([...plist.matchAll(/<key>([^<]+)<\/key>\s*<true\/>/g)].map((m) => m[1]), ['com.apple.security.cs.allow-jit']);
    assert.equal(mac.entitlementsInherit, mac.entitlements);
  });
});
