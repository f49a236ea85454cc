import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EgressPolicyRules } from '../../electron/core/egress/policy.js';
import { EgressProxy, type ConnectionRecord, type Resolver } from '../../electron/core/egress/proxy.js';

const rules = (allowHosts: string[], policy: 'api' | 'allowlist' | 'none' = 'allowlist') => new EgressPolicyRules({ policy, api: { host: '127.0.0.1', port: 8443, internal: true }, allowHosts });

describe('egress rules: what a session may reach, decided by name and by address', () => {
  it('none refuses everything, the API included; api allows only the API host and port', () => {
    assert.equal(rules([], 'none').decide('127.0.0.1', 8443).allowed, false);
    const api = rules(['pypi.org'], 'api');
    assert.deepEqual(api.decide('127.0.0.1', 8443), { allowed: true, rule: 'api', anyAddress: true });
    assert.equal(api.decide('127.0.0.1', 8444).allowed, false, 'another port of the API host');
    assert.equal(api.decide('pypi.org', 443).allowed, false, 'the list counts for allowlist only');
  });

  it('an API an item’s secret names (not the environment’s own URL) is reached by name, but never at an internal address', () => {
    const named = new EgressPolicyRules({ policy: 'api', api: { host: 'metadata.evil', port: 80, internal: false }, allowHosts: [] });
    assert.deepEqual(named.decide('metadata.evil', 80), { allowed: true, rule: 'api', anyAddress: false });
    assert.equal(named.addressAllowed('169.254.169.254'), false);
  });

  it('allowlist: exact names, *.domain for names under it (not the domain itself), case and a trailing dot ignored', () => {
    const r = rules(['pypi.org', '*.githubusercontent.com']);
    assert.equal(r.decide('PyPI.org.', 443).allowed, true);
    assert.equal(r.decide('raw.githubusercontent.com', 443).allowed, true);
    assert.equal(r.decide('a.b.githubusercontent.com', 443).allowed, true);
    assert.equal(r.decide('githubusercontent.com', 443).allowed, false);
    assert.equal(r.decide('evilgithubusercontent.com', 443).allowed, false);
    assert.equal(r.decide('pypi.org.evil.com', 443).allowed, false);
    assert.match(r.decide('evil.com', 443).rule, /not on the allowlist: add evil.com/);
  });

  it('internal addresses (loopback, private, link-local, metadata, v4-mapped) only when an address or range names them', () => {
    const r = rules(['pypi.org', '10.1.0.0/16', '127.0.0.5']);
    for (const address of ['169.254.169.254', '10.2.0.1', '192.168.1.1', '172.16.0.1', '127.0.0.1', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '0.0.0.0', '100.64.0.1']) {
      assert.equal(r.addressAllowed(address), false, address);
    }
    assert.equal(r.addressAllowed('10.1.2.3'), true);
    assert.equal(r.addressAllowed('::ffff:10.1.2.3'), true);
    assert.equal(r.addressAllowed('127.0.0.5'), true);
    assert.equal(r.addressAllowed('151.101.0.223'), true, 'a public address');
    assert.equal(r.decide('10.1.9.9', 22).allowed, true, 'an address inside a listed range');
    assert.match(r.decide('169.254.169.254', 80).rule, /internal address: add 169.254.169.254/);
  });
});

describe('the egress proxy: decides each connection, connects to the address it judged, and reports it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-egress-'));
  const socketPath = join(dir, 'proxy.sock');
  const records: ConnectionRecord[] = [];
  const servers: Server[] = [];
  const ports: Record<string, number> = {};
  const names: Record<string, string[]> = { 'pkg.test': ['127.0.0.2'], 'b.mirror.test': ['127.0.0.3'], 'intranet.test': ['127.0.0.4'], 'rebind.test': ['127.0.0.2', '10.0.0.1'] };
  const resolve: Resolver = async (host) => {
    const found = names[host];
    if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return found;
  };
  let proxy: EgressProxy;

  before(async () => {
    for (const address of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const server = createServer((req, res) => {
        let body = 0;
        req.on('data', (c: Buffer) => (body += c.length));
        req.on('end', () => res.end(`${address} ${req.method} ${req.url} host=${req.headers.host} proxy-auth=${req.headers['proxy-authorization'] ?? '-'} body=${body}`));
      });
      await new Promise<void>((r) => server.listen(0, address, r));
      servers.push(server);
      ports[address] = (server.address() as { port: number }).port;
    }
    proxy = await EgressProxy.listen({
      rules: rules(['pkg.test', '*.mirror.test', 'intranet.test', 'rebind.test', '127.0.0.2', '127.0.0.3']),
      socketPath,
      resolve,
      onConnection: (r) => void records.push(r),
    });
  });
  after(async () => {
    await proxy.close();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A CONNECT through the proxy, then one HTTP request on the tunnel: its status line and body, or the proxy's refusal. */
  function tunnel(target: string, path = '/hello'): Promise<string> {
    return new Promise((resolveText, reject) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.startsWith('HTTP/1.1 200 Connection Established\r\n\r\n') && !text.includes('GET-SENT')) {
          text += 'GET-SENT';
          socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
        }
      });
      socket.on('end', () => resolveText(text));
      socket.on('error', reject);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  }

  /** A plain HTTP request in absolute form, as curl and wget send it to an http_proxy. */
  function forward(url: string, body = ''): Promise<{ status: number; text: string }> {
    return new Promise((resolveReply, reject) => {
      const req = request({ socketPath, method: body ? 'POST' : 'GET', path: url, headers: { host: url.startsWith('http') ? new URL(url).host : 'pkg.test', 'proxy-authorization': 'Basic c2VjcmV0' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolveReply({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  const last = (host: string) => records.findLast((r) => r.host === host);
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it('a listed name is tunnelled to the address it resolved to, and its bytes and duration are reported', async () => {
    const reply = await tunnel(`pkg.test:${ports['127.0.0.2']}`);
    assert.match(reply, /HTTP\/1.1 200 OK[\s\S]*127\.0\.0\.2 GET \/hello host=pkg\.test/);
    await settle();
    const record = last('pkg.test')!;
    assert.equal(record.allowed, true);
    assert.equal(record.rule, 'allowlist: pkg.test');
    assert.equal(record.address, '127.0.0.2');
    assert.equal(record.method, 'CONNECT');
    assert.ok(record.bytesUp > 30 && record.bytesDown > 100, JSON.stringify(record));
    const opened = records.filter((r) => r.id === record.id);
    assert.deepEqual(opened.map((r) => r.open ?? false), [true, false], 'reported when it opens, and again, under its id, when it closes');
  });

  it('*.domain reaches a name under it; an unlisted name is refused with 403 and how to allow it, with no lookup', async () => {
    assert.match(await tunnel(`b.mirror.test:${ports['127.0.0.3']}`), /127\.0\.0\.3 GET/);
    const refused = await tunnel('evil.test:443');
    assert.match(refused, /^HTTP\/1.1 403 Forbidden[\s\S]*Outpost refused evil\.test:443: not on the allowlist: add evil\.test/);
    await settle();
    assert.deepEqual({ ...last('evil.test'), id: 0, at: 0, durationMs: 0 }, { id: 0, at: 0, durationMs: 0, method: 'CONNECT', host: 'evil.test', port: 443, allowed: false, rule: 'not on the allowlist: add evil.test', bytesUp: 0, bytesDown: 0, suggest: 'evil.test' });
  });

  it('a listed name that resolves to an unlisted internal address is refused (DNS rebinding included); the address must be listed', async () => {
    assert.match(await tunnel(`intranet.test:${ports['127.0.0.4']}`), /403 Forbidden[\s\S]*intranet\.test resolves to the internal address 127\.0\.0\.4: add 127\.0\.0\.4/);
    assert.match(await tunnel(`rebind.test:${ports['127.0.0.2']}`), /403 Forbidden[\s\S]*internal address 10\.0\.0\.1/, 'one bad address among good ones refuses the name');
    assert.match(await tunnel(`127.0.0.4:${ports['127.0.0.4']}`), /403 Forbidden[\s\S]*internal address: add 127\.0\.0\.4/);
    assert.match(await tunnel(`127.0.0.2:${ports['127.0.0.2']}`), /200 OK/, 'an address named by the list');
  });

  it('plain HTTP in absolute form is forwarded with the proxy’s own headers dropped, bodies both ways counted', async () => {
    const reply = await forward(`http://pkg.test:${ports['127.0.0.2']}/x?y=1`, 'z'.repeat(5000));
    assert.equal(reply.status, 200);
    assert.match(reply.text, /POST \/x\?y=1 host=pkg\.test:\d+ proxy-auth=- body=5000/);
    const refused = await forward('http://evil.test/');
    assert.equal(refused.status, 403);
    await settle();
    const record = records.findLast((r) => r.host === 'pkg.test' && r.method === 'HTTP')!;
    assert.ok(record.bytesUp > 5000, JSON.stringify(record));
  });

  it('hostile requests: a malformed CONNECT target, an origin-form request, a name that does not resolve, a port nothing listens on', async () => {
    for (const target of ['pkg.test', 'pkg.test:99999', 'user@pkg.test:443', '../../etc:80', 'pkg.test:443/x']) {
      assert.match(await tunnel(target), /^HTTP\/1.1 (400|403)/, target);
    }
    assert.match((await forward('/relative')).text, /forwards http:\/\/ URLs/);
    assert.match(await tunnel('nowhere.mirror.test:443'), /^HTTP\/1.1 502[\s\S]*ENOTFOUND/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.2', r));
    const port = (closed.address() as { port: number }).port;
    closed.close();
    assert.match(await tunnel(`pkg.test:${port}`), /^HTTP\/1.1 502[\s\S]*ECONNREFUSED/);
    await settle();
    assert.equal(last('nowhere.mirror.test')!.error, 'ENOTFOUND');
  });

  it('a connection still open when the session ends is cut and reported, before close resolves', async () => {
    const mine: ConnectionRecord[] = [];
    const path = join(dir, 'ending.sock');
    const ending = await EgressProxy.listen({ rules: rules(['pkg.test', '127.0.0.2']), socketPath: path, resolve, onConnection: (r) => void mine.push(r) });
    const socket = connect(path);
    socket.on('error', () => {});
    socket.write(`CONNECT pkg.test:${ports['127.0.0.2']} HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nHost: pkg.test\r\n\r\n`);
    await new Promise((r) => socket.once('data', r));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(mine.map((r) => r.open ?? false), [true], 'open, and still open (keep-alive)');
    await ending.close();
    assert.deepEqual(mine.map((r) => r.open ?? false), [true, false]);
    assert.ok(mine[1]!.bytesDown > 0);
  });

  /** A raw TCP server on 127.0.0.2 (pkg.test) that writes `bytes` as soon as a connection opens, then ends it. */
  async function rawServer(bytes: Buffer): Promise<{ port: number; close: () => void }> {
    const server = createNetServer((socket) => socket.end(bytes));
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    return { port: (server.address() as { port: number }).port, close: () => server.close() };
  }

  /** Everything a tunnel's client receives after the proxy's 200, read slowly at first when `stallMs` is given. */
  function tunnelBytes(target: string, stallMs = 0): Promise<Buffer> {
    return new Promise((resolveBytes, reject) => {
      const socket = connect(socketPath);
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        if (stallMs && chunks.length === 1) {
          socket.pause();
          setTimeout(() => socket.resume(), stallMs);
        }
      });
      socket.on('end', () => {
        const all = Buffer.concat(chunks);
        const head = 'HTTP/1.1 200 Connection Established\r\n\r\n';
        if (!all.subarray(0, head.length).equals(Buffer.from(head))) return reject(new Error(all.subarray(0, 200).toString()));
        resolveBytes(all.subarray(head.length));
      });
      socket.on('error', reject);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  }

  it('a server that speaks first (an SSH or SMTP banner) loses nothing before the tunnel is set up', async () => {
    const banner = await rawServer(Buffer.from('SSH-2.0-test-banner\r\n'));
    try {
      assert.equal((await tunnelBytes(`pkg.test:${banner.port}`)).toString(), 'SSH-2.0-test-banner\r\n');
    } finally {
      banner.close();
    }
  });

  it('a client that stops reading for a while still gets every byte of a large download, and the bytes are reported', async () => {
    const body = Buffer.alloc(24 * 2 ** 20);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const big = await rawServer(body);
    try {
      const got = await tunnelBytes(`pkg.test:${big.port}`, 400);
      assert.equal(got.length, body.length);
      assert.ok(got.equals(body), 'the same bytes in the same order');
      await settle();
      assert.equal(records.findLast((r) => r.port === big.port)!.bytesDown, body.length);
    } finally {
      big.close();
    }
  });

  it('a client that never reads cannot make the proxy hold a download: the upstream is paused, not drained into memory', async () => {
    let written = 0;
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      const chunk = Buffer.alloc(2 ** 20, 7);
      const more = (): void => {
        while (written < 512 * 2 ** 20) {
          written += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', more);
        }
      };
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    const port = (server.address() as { port: number }).port;
    const client = connect(socketPath);
    client.on('error', () => {});
    client.write(`CONNECT pkg.test:${port} HTTP/1.1\r\n\r\n`);
    await new Promise((r) => client.once('data', r));
    client.pause();
    try {
      await new Promise((r) => setTimeout(r, 2000));
      // What the server got rid of sits in kernel buffers (a few MiB each way on loopback) and at most one read of the proxy's.
      assert.ok(written < 64 * 2 ** 20, `the server wrote ${written / 2 ** 20} MiB to a client that reads nothing`);
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('headers that never end are cut off, and many connections at once are all answered', async () => {
    const replies = await Promise.all(Array.from({ length: 100 }, () => tunnel(`pkg.test:${ports['127.0.0.2']}`)));
    assert.ok(replies.every((r) => /200 OK/.test(r)));
    const huge = await new Promise<string>((resolveText) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolveText(text));
      socket.on('error', () => {});
      socket.write(`CONNECT pkg.test:80 HTTP/1.1\r\nX: ${'a'.repeat(100_000)}\r\n\r\n`);
    });
    assert.doesNotMatch(huge, /200/);
  });
});
