import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { Duplex, PassThrough, type Readable } from 'node:stream';
import { openAttach } from './attach.js';
import { LABEL, SESSION_IMAGE } from './labels.js';
import type { SessionUser } from './workspace.js';
import { createContainer } from './create-container.js';

/** Where, inside the session's network namespace, its proxy answers (Squid's port: tools recognise it). */
export const EGRESS_PORT = 3128;
/** The image the forwarder runs in: Outpost's session image, for its Node (built offline like it, DESIGN §3). */
export const FORWARDER_IMAGE = `${SESSION_IMAGE}:latest`;
/** Flow control per connection: a session that never reads holds at most this much in the sidecar, per connection. */
export const STREAM_WINDOW = 1024 * 1024;
/** …and this much in all, however many connections it opens. */
export const SESSION_WINDOW = 8 * 1024 * 1024;
/** How far into its stdin the forwarder looks for the marker before it gives up. */
const MARKER_SEARCH_BYTES = 64 * 1024;

/**
 * The forwarder: each connection to 127.0.0.1:PORT in the shared namespace becomes one HTTP/2
 * CONNECT stream to the worker, over the sidecar's own stdin and stdout — the Docker attach stream,
 * which every engine carries, where a unix socket in a bind mount does not cross a VM's file share
 * (docker/for-mac#483). HTTP/2 gives each connection its own flow control. The forwarder decides
 * nothing (the worker's proxy does), so nothing here is worth attacking.
 *
 * Its stdin may begin with bytes that are not Outpost's (Podman delivers the attach request's body
 * there): the frames start after a marker the worker writes first. Its own errors go to stderr, which
 * the worker copies into the session's log.
 */
export const FORWARDER = `
const net = require('node:net');
const http2 = require('node:http2');
const { Duplex, PassThrough } = require('node:stream');
const [port, marker, streamWindow, sessionWindow, searchBytes] = process.argv.slice(1);
const say = (line) => process.stderr.write(line + '\\n');
const MARK = Buffer.from(marker);
const frames = new PassThrough();
let seen = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  if (seen) {
    seen = Buffer.concat([seen, chunk]);
    const at = seen.indexOf(MARK);
    if (at < 0 || at > Number(searchBytes)) {
      if (at > Number(searchBytes) || seen.length > Number(searchBytes) + MARK.length) (say('no egress stream from Outpost: its marker was not in the first ' + searchBytes + ' bytes'), process.exit(2));
      return;
    }
    chunk = seen.subarray(at + MARK.length);
    seen = undefined;
  }
  if (!frames.write(chunk)) (process.stdin.pause(), frames.once('drain', () => process.stdin.resume()));
});
process.stdin.on('end', () => (say('Outpost closed the egress stream'), process.exit(0)));
// stdout as a socket of its own: process.stdout writes to a pipe synchronously on Linux, and would block the loop.
const out = new net.Socket({ fd: 1, readable: false, writable: true });
const wire = Duplex.from({ readable: frames, writable: out });
const session = http2.connect('http://egress.outpost', { createConnection: () => wire, settings: { initialWindowSize: Number(streamWindow) } });
session.on('connect', () => session.setLocalWindowSize(Number(sessionWindow)));
let down = '';
session.on('error', (e) => (down = e.message, say('the egress stream failed: ' + e.message)));
// Outpost's end of the stream went away while the attach stays: each connection is told so, in words.
const ended = (why) => down || (down = why, say('the egress stream closed: ' + why));
session.on('goaway', () => ended('Outpost ended it'));
session.on('close', () => ended('Outpost closed it'));
const unreachable = (why) => {
  const body = 'the egress proxy cannot be reached: ' + why + '\\n';
  return 'HTTP/1.1 502 Bad Gateway\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\nContent-Length: ' + Buffer.byteLength(body) + '\\r\\n\\r\\n' + body;
};
net.createServer({ allowHalfOpen: true }, (client) => {
  client.setNoDelay(true);
  client.on('error', () => client.destroy());
  if (session.destroyed || session.closed) return client.end(unreachable(down || 'its stream to Outpost is closed'));
  let stream;
  try {
    stream = session.request({ ':method': 'CONNECT', ':authority': 'proxy.outpost:' + port });
  } catch (e) {
    say('could not open an egress stream: ' + e.message);
    return client.end(unreachable(e.message));
  }
  let answered = false;
  stream.on('response', () => (answered = true));
  stream.on('error', (e) => {
    if (!answered) (say('an egress stream failed before Outpost answered: ' + e.message), client.end(unreachable(e.message)));
    else client.destroy();
  });
  client.on('close', () => stream.destroyed || stream.close(http2.constants.NGHTTP2_CANCEL));
  stream.on('close', () => (stream.rstCode ? client.destroy() : client.end()));
  client.pipe(stream);
  stream.pipe(client);
}).listen(Number(port), '127.0.0.1', () => say('outpost-egress listening'));
`;

export interface SidecarSpec {
  name: string;
  /** The session's labels: startup recovery sweeps the sidecar with its session. */
  labels: Record<string, string>;
  user: SessionUser;
  usernsMode?: string;
  /** Each line the forwarder says about itself once it runs (its errors): the session's log gets them. */
  onNote?: (line: string) => void;
}

export interface EgressSidecar {
  container: Docker.Container;
  /** The HTTP/2 connection to the forwarder, as the worker's end of it: serve it with an HTTP/2 server. */
  wire: Duplex;
}

/**
 * The session's network namespace, held by a forwarder with no network but loopback: the session
 * joins it (`NetworkMode: container:<id>`), so 127.0.0.1:EGRESS_PORT is its one way out. What carries
 * its connections to the worker is the sidecar's attach stream: no file, socket or port is shared
 * between this machine and the engine, so it works where the engine runs in a VM.
 */
export async function startEgressSidecar(docker: Docker, spec: SidecarSpec): Promise<EgressSidecar> {
  const marker = `OUTPOST-EGRESS-${randomBytes(12).toString('hex')}\n`;
  const { container } = await createContainer(docker, {
    name: spec.name,
    Image: FORWARDER_IMAGE,
    Entrypoint: ['/usr/local/bin/node', '-e', FORWARDER],
    Cmd: [String(EGRESS_PORT), marker, String(STREAM_WINDOW), String(SESSION_WINDOW), String(MARKER_SEARCH_BYTES)],
    User: `${spec.user.uid}:${spec.user.gid}`,
    Labels: { ...spec.labels, [LABEL.role]: 'egress' },
    Env: [],
    WorkingDir: '/',
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    // Its stdin closes when Outpost's attach does: the forwarder then exits, with Outpost.
    StdinOnce: true,
    HostConfig: {
      NetworkMode: 'none',
      ...(spec.usernsMode ? { UsernsMode: spec.usernsMode } : {}),
      // Its output is the worker's stream: no copy of it anywhere else.
      LogConfig: { Type: 'none', Config: {} },
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      Memory: 128 * 2 ** 20,
      PidsLimit: 32,
    },
  });
  try {
    // Attached before start, so the forwarder's first frames and words are not missed.
    const stream = await openAttach(docker, container, { stdin: true });
    const frames = new PassThrough({ highWaterMark: STREAM_WINDOW });
    const notes = new PassThrough();
    docker.modem.demuxStream(stream, frames, notes);
    stream.on('end', () => (frames.end(), notes.end()));
    const ready = forwarderReady(notes, stream, spec.onNote);
    stream.write(marker);
    await container.start();
    await ready;
    const wire = Duplex.from({ readable: frames, writable: stream });
    wire.on('error', () => wire.destroy());
    return { container, wire };
  } catch (e) {
    await container.remove({ force: true }).catch(() => {});
    throw e;
  }
}

/** Resolves when the forwarder listens; rejects with what it printed if it ends or hangs first. Later lines go to `onNote`. */
function forwarderReady(notes: Readable, stream: NodeJS.ReadableStream, onNote?: (line: string) => void): Promise<void> {
  let printed = '';
  let listening = false;
  let partial = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the egress forwarder did not start within 20 s: ${printed.slice(0, 300)}`)), 20_000);
    notes.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      // Each line bounded: the forwarder is the session's neighbour, not to be trusted with the log's size.
      partial = lines.pop()!.slice(0, 4096);
      for (const line of lines.map((l) => l.slice(0, 4096)).filter(Boolean)) {
        if (listening) onNote?.(line);
        else if (line !== 'outpost-egress listening') printed = `${printed}${line}\n`.slice(0, 1000);
        else {
          listening = true;
          clearTimeout(timer);
          resolve();
        }
      }
    });
    stream.on('end', () => (clearTimeout(timer), reject(new Error(`the egress forwarder exited: ${printed.slice(0, 300)}`))));
  });
}
