import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { connect as tlsConnect, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { judgeFirstBytes } from '../../electron/core/egress/first-bytes.js';
import { EgressPolicyRules } from '../../electron/core/egress/policy.js';
import { isAllowEntry } from '../../shared/egress.js';
import { EgressProxy, type ConnectionRecord, type Resolver } from '../../electron/core/egress/proxy.js';
import { READ_SIZE, SESSION_HELD_BYTES } from '../../electron/core/egress/tunnel-reads.js';

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

  it('a name is open on 443 and 80 only, unless its entry names a port; an address or range on every port; the API on its own port', () => {
    const r = rules(['pypi.org', 'pypi.org:8443', '*.example.com:22', 'mirror.test', '10.1.0.0/16']);
    assert.equal(r.decide('pypi.org', 443).allowed, true);
    assert.equal(r.decide('pypi.org', 80).allowed, true);
    assert.deepEqual(r.decide('pypi.org', 8443), { allowed: true, rule: 'allowlist: pypi.org:8443', anyAddress: false });
    assert.deepEqual(r.decide('mirror.test', 22), { allowed: false, rule: 'mirror.test is allowed on ports 80 and 443 only: add mirror.test:22', suggest: 'mirror.test:22' });
    assert.equal(r.decide('git.example.com', 22).allowed, true);
    assert.match(r.decide('git.example.com', 443).rule, /\*\.example\.com is allowed on port 22 only: add git\.example\.com$/);
    assert.deepEqual(r.decide('unlisted.test', 5432), { allowed: false, rule: 'not on the allowlist: add unlisted.test:5432', suggest: 'unlisted.test:5432' });
    assert.equal(r.decide('10.1.2.3', 5432).allowed, true, 'an address range names machines, not a shared front');
    assert.equal(r.decide('127.0.0.1', 8443).rule, 'api');
  });

  it('an entry’s port is checked at input', () => {
    for (const good of ['pypi.org:8443', '*.example.com:22', 'fd00::1', '10.0.0.5/32', 'pypi.org']) assert.equal(isAllowEntry(good), true, good);
    for (const bad of ['pypi.org:0', 'pypi.org:65536', 'pypi.org:', 'pypi.org:22:33', '10.0.0.5:22', '*.example.com:x', ':443']) assert.equal(isAllowEntry(bad), false, bad);
  });

  it('a tunnel’s first bytes: HTTP tricks to name another host are refused; other protocols pass; HTTP goes up with Connection: close', () => {
    const judge = (text: string) => judgeFirstBytes(Buffer.from(text, 'latin1'), 'pkg.test');
    const refusal = (text: string) => {
      const verdict = judge(text);
      return 'refused' in verdict ? verdict.refused : 'passed';
    };
    assert.match(refusal('\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n'), /Host header names evil\.test/, 'empty lines first, as servers allow');
    assert.match(refusal('GET http://evil.test/ HTTP/1.1\r\nHost: pkg.test\r\n\r\n'), /asks for evil\.test/);
    assert.match(refusal('GET / HTTP/1.1\r\nHost: pkg.test\r\nHost: evil.test\r\n\r\n'), /more than one Host/);
    assert.match(refusal('GET / HTTP/1.1\r\nHost : evil.test\r\n\r\n'), /Host header names evil\.test/, 'a space before the colon');
    assert.match(refusal('GET / HTTP/1.1\r\nHost: pkg.test\r\n evil.test\r\n\r\n'), /folded/);
    assert.match(refusal('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), /HTTP\/2 without TLS/);
    assert.match(refusal(`GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(4000)}`), /first 16 KiB/);
    assert.deepEqual(judge('GET / HTT'), { more: true });
    assert.equal(refusal('SSH-2.0-OpenSSH_9.6\r\n'), 'passed');
    assert.equal(refusal('\x00\x00\x00\x08\x04\xd2\x16\x2f'), 'passed', 'a database’s binary hello');
    const upgrade = judge('GET /ws HTTP/1.1\r\nHost: PKG.test:8080\r\nConnection: keep-alive, Upgrade\r\nKeep-Alive: 5\r\nUpgrade: websocket\r\n\r\nbody');
    assert.ok('pass' in upgrade);
    assert.equal(upgrade.pass.toString(), 'GET /ws HTTP/1.1\r\nHost: PKG.test:8080\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n\r\nbody');
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
  let tlsServer: TlsServer;
  let tlsPort = 0;
  let cert = '';

  before(async () => {
    // A real TLS server for pkg.test on 127.0.0.2, with a certificate made for the test.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=pkg.test', '-addext', 'subjectAltName=DNS:pkg.test,DNS:evil.test,IP:127.0.0.2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    tlsServer = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (socket) => socket.end(`hello over TLS, server name ${(socket as unknown as { servername: string | false }).servername || '-'}\n`));
    await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.2', r));
    tlsPort = (tlsServer.address() as { port: number }).port;
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
      // The test servers listen on ports of their own: a name is open on 443 and 80 unless its entry names another.
      rules: rules(['pkg.test', `pkg.test:${ports['127.0.0.2']}`, `pkg.test:${tlsPort}`, '*.mirror.test', `*.mirror.test:${ports['127.0.0.3']}`, `intranet.test:${ports['127.0.0.4']}`, `rebind.test:${ports['127.0.0.2']}`, '127.0.0.2', '127.0.0.3']),
      socketPath,
      resolve,
      onConnection: (r) => void records.push(r),
      firstBytesTimeoutMs: 1_000,
    });
  });
  after(async () => {
    await proxy.close();
    tlsServer.close();
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A CONNECT through the proxy, then one HTTP request on the tunnel: its status line and body, or the proxy's refusal. */
  function tunnel(target: string, path = '/hello', hostHeader = target): Promise<string> {
    return new Promise((resolveText, reject) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.startsWith('HTTP/1.1 200 Connection Established\r\n\r\n') && !text.includes('GET-SENT')) {
          text += 'GET-SENT';
          socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`);
        }
      });
      socket.on('end', () => resolveText(text));
      socket.on('error', reject);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    });
  }

  /** A plain HTTP request in absolute form, as curl and wget send it to an http_proxy. */
  function forward(url: string, body = '', host: string | string[] = url.startsWith('http') ? new URL(url).host : 'pkg.test'): Promise<{ status: number; text: string }> {
    return new Promise((resolveReply, reject) => {
      const headers = typeof host === 'string' ? ['Host', host] : host;
      const req = request({ socketPath, method: body ? 'POST' : 'GET', path: url, setHost: false, headers: [...headers, 'Proxy-Authorization', 'Basic c2VjcmV0'] }, (res) => {
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
    assert.equal(record.rule, `allowlist: pkg.test:${ports['127.0.0.2']}`);
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
    assert.match(await tunnel(`127.0.0.2:${port}`), /^HTTP\/1.1 502[\s\S]*ECONNREFUSED/);
    await settle();
    assert.equal(last('nowhere.mirror.test')!.error, 'ENOTFOUND');
  });

  it('a connection still open when the session ends is cut and reported, before close resolves', async () => {
    const mine: ConnectionRecord[] = [];
    const path = join(dir, 'ending.sock');
    // A server that answers each line and keeps the connection open (plain HTTP through a tunnel is closed after one request).
    const echo = createNetServer((s) => (s.on('error', () => {}), s.on('data', (d: Buffer) => s.write(d))));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.2', r));
    const echoPort = (echo.address() as { port: number }).port;
    const ending = await EgressProxy.listen({ rules: rules([`pkg.test:${echoPort}`, '127.0.0.2']), socketPath: path, resolve, onConnection: (r) => void mine.push(r) });
    const socket = connect(path);
    socket.on('error', () => {});
    socket.write(`CONNECT pkg.test:${echoPort} HTTP/1.1\r\n\r\nping\n`);
    let got = '';
    await new Promise<void>((r) => socket.on('data', (d: Buffer) => ((got += d.toString()), got.endsWith('ping\n') && r())));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(mine.map((r) => r.open ?? false), [true], 'open, and still open');
    await ending.close();
    echo.close();
    assert.deepEqual(mine.map((r) => r.open ?? false), [true, false]);
    assert.ok(mine[1]!.bytesDown > 0);
  });

  /** A raw TCP server on 127.0.0.2 that writes `bytes` as soon as a connection opens, then ends it. */
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
      assert.equal((await tunnelBytes(`127.0.0.2:${banner.port}`)).toString(), 'SSH-2.0-test-banner\r\n');
    } finally {
      banner.close();
    }
  });

  it('a client that stops reading for a while still gets every byte of a large download, and the bytes are reported', async () => {
    const body = Buffer.alloc(24 * 2 ** 20);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
    const big = await rawServer(body);
    try {
      const got = await tunnelBytes(`127.0.0.2:${big.port}`, 400);
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
    client.write(`CONNECT 127.0.0.2:${port} HTTP/1.1\r\n\r\n`);
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

  it('many tunnels that never read cannot make the proxy hold more than the session’s bound, all together', async () => {
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      const chunk = Buffer.alloc(2 ** 20, 7);
      const more = (): void => {
        while (!socket.destroyed) if (!socket.write(chunk)) return void socket.once('drain', more);
      };
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.2', r));
    const port = (server.address() as { port: number }).port;
    const clients = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const client = connect(socketPath);
        client.on('error', () => {});
        client.write(`CONNECT 127.0.0.2:${port} HTTP/1.1\r\n\r\n`);
        await new Promise((r) => client.once('data', r));
        // A protocol that names no host (an SSH hello): the tunnel opens both ways.
        client.write('SSH-2.0-outpost-test\r\n');
        client.pause();
        return client;
      }),
    );
    try {
      await new Promise((r) => setTimeout(r, 2000));
      // Without a bound for the session, each tunnel held about two reads of 256 KiB: 200 of them, some 100 MiB.
      assert.ok(proxy.heldBytes <= SESSION_HELD_BYTES + READ_SIZE, `the proxy holds ${(proxy.heldBytes / 2 ** 20).toFixed(1)} MiB for clients that read nothing`);
    } finally {
      for (const client of clients) client.destroy();
      server.close();
    }
    await waitUntil(() => proxy.heldBytes === 0);
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
  /** A CONNECT, then a TLS handshake on the tunnel with `servername` ('' sends none): what the server said, or the TLS error. */
  function tlsThrough(target: string, servername: string): Promise<string> {
    return new Promise((resolveText, reject) => {
      const socket = connect(socketPath);
      socket.once('error', reject);
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      socket.once('data', (d: Buffer) => {
        if (!d.toString().startsWith('HTTP/1.1 200 ')) return resolveText(d.toString());
        const tls = tlsConnect({ socket, servername, ca: cert, checkServerIdentity: () => undefined });
        let text = '';
        tls.on('data', (c: Buffer) => (text += c.toString()));
        tls.on('end', () => resolveText(text));
        tls.on('error', (e: NodeJS.ErrnoException) => resolveText(`error: ${e.code ?? e.message} ${e.message}`));
      });
    });
  }

  it('TLS through a tunnel: the server name (SNI) must be the CONNECT target; a mismatch is refused in words and logged', async () => {
    assert.equal(await tlsThrough(`pkg.test:${tlsPort}`, 'pkg.test'), 'hello over TLS, server name pkg.test\n');
    const fronted = await tlsThrough(`pkg.test:${tlsPort}`, 'evil.test');
    assert.match(fronted, /error: .*unrecognized name/i, 'the client is told its server name was refused');
    assert.doesNotMatch(fronted, /hello over TLS/);
    await settle();
    const refused = records.findLast((r) => r.host === 'pkg.test' && r.port === tlsPort)!;
    assert.equal(refused.allowed, false);
    assert.equal(refused.rule, 'TLS names evil.test, not the CONNECT target pkg.test');
    assert.match(await tlsThrough(`pkg.test:${tlsPort}`, ''), /error: .*unrecognized name/i, 'no server name to a name: the front would pick the site');
    assert.match(records.findLast((r) => r.port === tlsPort)!.rule, /TLS without a server name \(SNI\) to the name pkg\.test/);
    assert.equal(await tlsThrough(`127.0.0.2:${tlsPort}`, ''), 'hello over TLS, server name -\n', 'an address target: clients send no SNI for an address');
    assert.match(await tlsThrough(`127.0.0.2:${tlsPort}`, 'evil.test'), /unrecognized name/i);
  });

  it('a tunnel whose client sends nothing, or half a ClientHello, is closed after a bound', async () => {
    const silent = await new Promise<string>((resolveText) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('\r\n\r\n') && !text.includes('SENT')) (text += 'SENT'), socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      });
      socket.on('close', () => resolveText(text));
      socket.on('error', () => {});
      socket.write(`CONNECT pkg.test:${tlsPort} HTTP/1.1\r\n\r\n`);
    });
    assert.match(silent, /^HTTP\/1.1 200 /);
    await settle();
    assert.match(records.findLast((r) => r.port === tlsPort)!.rule, /did not make a whole TLS ClientHello or HTTP request head within 1 s/);
  });

  it('plain HTTP through a tunnel: the Host must be the CONNECT target, and a second request on the tunnel never reaches the server', async () => {
    const target = `pkg.test:${ports['127.0.0.2']}`;
    const fronted = await tunnel(target, '/hello', 'evil.test');
    assert.match(fronted, /HTTP\/1.1 403 Forbidden[\s\S]*Outpost refused this request through the tunnel to pkg\.test: its Host header names evil\.test, not the CONNECT target pkg\.test/);
    assert.doesNotMatch(fronted, /127\.0\.0\.2 GET/);
    await settle();
    assert.equal(last('pkg.test')!.allowed, false);
    // A first request that passes, asking to keep the connection, and a second one for another site once the first is answered.
    const smuggled = await new Promise<string>((resolveText) => {
      const socket = connect(socketPath);
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.endsWith('\r\n\r\n') && !text.includes('first')) socket.write(`GET /first HTTP/1.1\r\nHost: ${target}\r\nConnection: keep-alive\r\n\r\n`);
        else if (text.includes('GET /first') && !text.includes('SENT')) (text += 'SENT'), socket.write('GET /second HTTP/1.1\r\nHost: evil.test\r\n\r\n');
      });
      socket.on('close', () => resolveText(text));
      socket.on('error', () => {});
      socket.write(`CONNECT ${target} HTTP/1.1\r\n\r\n`);
    });
    assert.match(smuggled, /Connection: close[\s\S]*127\.0\.0\.2 GET \/first host=pkg\.test/, 'the first request is sent with Connection: close');
    assert.doesNotMatch(smuggled, /\/second|evil/, 'the server answered the one request the proxy read, and closed');
  });

  it('plain http:// requests: the server gets the URL’s host as the one Host, whatever the client sent', async () => {
    const url = `http://pkg.test:${ports['127.0.0.2']}/x`;
    const fronted = await forward(url, '', 'evil.test');
    assert.equal(fronted.status, 200);
    assert.match(fronted.text, new RegExp(`GET /x host=pkg\\.test:${ports['127.0.0.2']} `));
    const two = await forward(url, '', ['Host', 'pkg.test', 'Host', 'evil.test']);
    assert.match(two.text, new RegExp(`GET /x host=pkg\\.test:${ports['127.0.0.2']} `), 'two Host headers');
    assert.doesNotMatch(fronted.text + two.text, /evil/);
  });

  it('a name is refused on a port its entry does not name, before any lookup', async () => {
    const reply = await tunnel(`pkg.test:${ports['127.0.0.3']}`);
    assert.match(reply, new RegExp(`^HTTP/1.1 403 Forbidden[\\s\\S]*pkg\\.test is allowed on ports 80, 443, .* only: add pkg\\.test:${ports['127.0.0.3']}`));
    assert.match(await tunnel(`pkg.test:${ports['127.0.0.2']}`), /200 OK/, 'the port its entry names');
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
