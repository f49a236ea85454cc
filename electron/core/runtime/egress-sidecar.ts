import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { LABEL, SESSION_IMAGE } from './labels.js';
import type { SessionUser } from './workspace.js';

/** Where, inside the session's network namespace, its proxy answers (Squid's port: tools recognise it). */
export const EGRESS_PORT = 3128;
/** The image the forwarder runs in: Outpost's session image, for its Node (built offline like it, DESIGN §3). */
export const FORWARDER_IMAGE = `${SESSION_IMAGE}:latest`;
/** Where the sidecar sees the host proxy's socket folder (read-only: connecting to a socket needs no write). */
const SOCKET_MOUNT = '/run/outpost-egress';

/**
 * The forwarder: every connection to 127.0.0.1:PORT in the shared namespace is piped to the host
 * proxy's unix socket. It decides nothing (the host proxy does), so nothing here is worth attacking.
 */
const FORWARDER = `
const net = require('node:net');
const [port, socket] = process.argv.slice(1);
// Downloads are read 256 KiB at a time into one buffer and copied out at once (as the host proxy's TunnelReads).
const shared = Buffer.allocUnsafe(256 * 1024);
net.createServer((client) => {
  const deliver = (n, buf) => {
    client.write(Buffer.from(buf.subarray(0, n)));
    if (client.writableLength <= shared.length) return true;
    client.once('drain', () => proxy.resume());
    return false;
  };
  const proxy = net.connect({ path: socket, onread: { buffer: shared, callback: deliver } });
  // A clean end of the proxy's side lets the client take what is still queued for it; an error cuts it.
  client.on('error', () => client.destroy()).on('close', () => proxy.destroy());
  proxy.on('error', () => proxy.destroy()).on('end', () => client.end()).on('close', (hadError) => (hadError ? client.destroy() : client.end()));
  client.pipe(proxy);
}).listen(Number(port), '127.0.0.1', () => console.log('outpost-egress listening'));
`;

export interface SidecarSpec {
  name: string;
  /** The session's labels: startup recovery sweeps the sidecar with its session. */
  labels: Record<string, string>;
  /** The host folder holding `proxy.sock`: mounted here only, never into the session. */
  socketDir: string;
  user: SessionUser;
}

/**
 * The session's network namespace, held by a forwarder with no network but loopback:
 * the session joins it (`NetworkMode: container:<id>`), so 127.0.0.1:EGRESS_PORT is its one way out,
 * and the unix socket behind it is in the sidecar's file system, not the session's.
 */
export async function startEgressSidecar(docker: Docker, spec: SidecarSpec): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: spec.name,
    Image: FORWARDER_IMAGE,
    Entrypoint: ['/usr/local/bin/node', '-e', FORWARDER],
    Cmd: [String(EGRESS_PORT), `${SOCKET_MOUNT}/proxy.sock`],
    User: `${spec.user.uid}:${spec.user.gid}`,
    Labels: { ...spec.labels, [LABEL.role]: 'egress' },
    Env: [],
    WorkingDir: '/',
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      NetworkMode: 'none',
      Binds: [`${spec.socketDir}:${SOCKET_MOUNT}:ro`],
      LogConfig: { Type: 'none', Config: {} },
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      CapDrop: ['ALL'],
      Memory: 128 * 2 ** 20,
      PidsLimit: 32,
    },
  });
  try {
    // Ready when it listens: a session that starts sooner would find no proxy and fail its first call.
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    docker.modem.demuxStream(stream, out, out);
    let printed = '';
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the egress forwarder did not start within 20 s: ${printed.slice(0, 300)}`)), 20_000);
      out.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (printed.includes('outpost-egress listening')) (clearTimeout(timer), resolve());
      });
      stream.on('end', () => (clearTimeout(timer), reject(new Error(`the egress forwarder exited: ${printed.slice(0, 300)}`))));
    });
    await container.start();
    await ready;
    return container;
  } catch (e) {
    await container.remove({ force: true }).catch(() => {});
    throw e;
  }
}
