import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createH2Server, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { connect, createServer, type AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { FORWARDER } from '../../electron/core/runtime/egress-sidecar.js';

/** What Podman puts on a container's stdin ahead of anything written to the attach: the attach request's JSON body. */
const PODMAN_BODY = '{"stream":true,"stdout":true,"stderr":true,"stdin":true,"hijack":true}';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The sidecar's forwarder run as the sidecar runs it (node -e, its stdin and stdout the attach
 * stream), with this test as the worker's end: an HTTP/2 server over the forwarder's stdio that
 * echoes each CONNECT stream back. No Docker: what is tested is the framing and the words.
 */
async function forwarder(prefix: string | Buffer) {
  const port = await freePort();
  const marker = `OUTPOST-EGRESS-${randomBytes(12).toString('hex')}\n`;
  const child = spawn(process.execPath, ['-e', FORWARDER, String(port), marker, '262144', '8388608', '65536'], { stdio: 'pipe' }) as ChildProcessWithoutNullStreams;
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  let said = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (said += c));
  const sessions: ServerHttp2Session[] = [];
  const server: Http2Server = createH2Server();
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    stream.respond({ ':status': headers[':method'] === 'CONNECT' ? 200 : 405 });
    stream.pipe(stream);
  });
  child.stdin.write(prefix);
  child.stdin.write(marker);
  server.emit('connection', Duplex.from({ readable: child.stdout, writable: child.stdin }));
  const deadline = Date.now() + 10_000;
  while (!said.includes('outpost-egress listening') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { child, port, sessions, exited, said: () => said };
}

/** One connection to the forwarder's port: what is sent, and everything that comes back until it closes. */
async function roundTrip(port: number, send: string): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let got = '';
  socket.on('data', (c: string) => (got += c));
  socket.end(send);
  await once(socket, 'close');
  return got;
}

describe('the egress forwarder: connections over the sidecar’s attach stream', () => {
  const children: ChildProcessWithoutNullStreams[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('finds Outpost’s frames after whatever an engine put on stdin first (Podman’s attach body, stray bytes)', async () => {
    for (const prefix of [PODMAN_BODY, Buffer.concat([randomBytes(3000), Buffer.from('OUTPOST-EGRESS-')])]) {
      const { child, port } = await forwarder(prefix);
      children.push(child);
      assert.equal(await roundTrip(port, 'CONNECT pkg.test:443 HTTP/1.1\r\n\r\nhello'), 'CONNECT pkg.test:443 HTTP/1.1\r\n\r\nhello', 'every byte each way, in order');
    }
  });

  it('carries many connections at once, each whole', async () => {
    const { child, port } = await forwarder('');
    children.push(child);
    const payloads = Array.from({ length: 40 }, (_, i) => `${i}:${randomBytes(20_000).toString('hex')}`);
    assert.deepEqual(await Promise.all(payloads.map((p) => roundTrip(port, p))), payloads);
  });

  it('gives up in words when no frames of Outpost’s come within 64 KiB', async () => {
    const { child, exited, said } = await forwarder(randomBytes(70_000).toString('base64'));
    children.push(child);
    assert.equal(await exited, 2);
    assert.match(said(), /no egress stream from Outpost: its marker was not in the first 65536 bytes/);
  });

  it('when Outpost’s end of the stream is gone, a connection is answered 502 “the egress proxy cannot be reached”, and the forwarder says so', async () => {
    const { child, port, sessions, said } = await forwarder('');
    children.push(child);
    assert.equal(await roundTrip(port, 'ping'), 'ping');
    // A GOAWAY with the attach itself still open: the forwarder's HTTP/2 session ends, the sidecar does not.
    for (const session of sessions) session.goaway();
    const deadline = Date.now() + 5_000;
    while (!said().includes('the egress stream closed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const answer = await roundTrip(port, 'CONNECT pkg.test:443 HTTP/1.1\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(answer, /the egress proxy cannot be reached: /);
    assert.match(said(), /the egress stream closed: /);
  });

  it('exits when its stdin closes: the sidecar ends with its Outpost', async () => {
    const { child, exited } = await forwarder('');
    children.push(child);
    child.stdin.end();
    assert.equal(await exited, 0);
  });
});
