import type Docker from 'dockerode';
import { createServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { EgressConnection } from '../../../shared/contract.js';
import type { EgressPolicy } from '../../../shared/egress.js';
import { EGRESS_PORT, SESSION_WINDOW, startEgressSidecar, STREAM_WINDOW, type EgressSidecar } from './egress-sidecar.js';
import type { SessionUser } from './workspace.js';
import { ConnectionLog } from '../egress/connection-log.js';
import { EgressPolicyRules, normalHost } from '../egress/policy.js';
import { EgressProxy, type Resolver } from '../egress/proxy.js';

/** An environment's egress settings, as its sessions are started with them. */
export interface EgressSettings {
  policy: EgressPolicy;
  allowHosts: readonly string[];
  /** The environment's own API URL: the only API origin allowed to be an internal address. */
  environmentUrl?: string;
  /** Name lookups of the proxy (tests point it at 127.0.0.x servers). */
  resolve?: Resolver;
}

export interface SessionEgressOptions {
  settings: EgressSettings;
  /** `open`: the profile's Docker network mode. */
  openNetworkMode: string;
  /** The control plane the session runner calls (its host and port pass under `api` and `allowlist`). */
  apiBaseUrl?: string;
  docker: Docker;
  /** The sidecar's name and labels (the session's own, so recovery sweeps both). */
  name: string;
  labels: Record<string, string>;
  /** Who the sidecar runs as: the session's own uid (it holds nothing of the host's). */
  user: SessionUser;
  workId: string;
  /** The session's log: one line per connection. */
  logFile: string;
  /** The session's connections as JSON lines, for the window's Network view after the session. */
  recordFile: string;
  onConnection?: (connection: EgressConnection) => void;
}

/** What the session container gets: its network mode and the environment that points its tools at the proxy. */
export interface SessionEgress {
  networkMode: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/**
 * A session's egress, by its environment's policy: `open` is the profile's Docker network;
 * `none` is loopback only; `api` and `allowlist` are loopback plus a forwarder sidecar whose attach
 * stream carries each connection, as an HTTP/2 stream, to a proxy in this process that decides it and
 * logs it. The session cannot reconfigure any of it, and never sees that stream.
 */
export async function openSessionEgress(opts: SessionEgressOptions): Promise<SessionEgress> {
  const { policy } = opts.settings;
  if (policy === 'open') return { networkMode: opts.openNetworkMode, env: {}, close: async () => {} };
  if (policy === 'none') return { networkMode: 'none', env: {}, close: async () => {} };

  const api = apiOrigin(opts.apiBaseUrl, opts.settings.environmentUrl);
  const rules = new EgressPolicyRules({ policy, allowHosts: opts.settings.allowHosts, ...(api ? { api } : {}) });
  const log = new ConnectionLog(opts, opts.onConnection);
  const proxy = EgressProxy.create({ rules, onConnection: (record) => log.add(record), ...(opts.settings.resolve ? { resolve: opts.settings.resolve } : {}) });
  const server = createServer({ settings: { initialWindowSize: STREAM_WINDOW } });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.once('remoteSettings', () => session.setLocalWindowSize(SESSION_WINDOW));
    // A broken stream is the forwarder's to report (it tells the session); here it only must not throw.
    session.on('error', (e) => log.note(`the egress stream failed: ${e.message}`));
  });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    stream.on('error', () => stream.destroy());
    if (headers[':method'] !== 'CONNECT') {
      stream.respond({ ':status': 405 }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200 });
    // The proxy's HTTP/1.1 answers are written as latin1 strings; Node 20's HTTP/2 stream sends a short
    // string written that way with its first bytes garbled (seen: the status line of a plain request's
    // answer). As Buffers they arrive intact.
    (stream as unknown as { _writableState: { decodeStrings: boolean } })._writableState.decodeStrings = true;
    proxy.accept(stream);
  });
  let sidecar: EgressSidecar | undefined;
  try {
    sidecar = await startEgressSidecar(opts.docker, { name: opts.name, labels: opts.labels, user: opts.user, onNote: (line) => log.note(`forwarder: ${line}`) });
    server.emit('connection', sidecar.wire);
    const proxyUrl = `http://127.0.0.1:${EGRESS_PORT}`;
    const local = LOOPBACK_NAMES.filter((name) => name !== (api && normalHost(api.host)));
    const { container, wire } = sidecar;
    return {
      networkMode: `container:${container.id}`,
      // Both spellings: curl reads only the lower-case http_proxy; NODE_USE_ENV_PROXY makes Node 22's own fetch use them.
      env: {
        HTTP_PROXY: proxyUrl,
        HTTPS_PROXY: proxyUrl,
        http_proxy: proxyUrl,
        https_proxy: proxyUrl,
        NO_PROXY: local.join(','),
        no_proxy: local.join(','),
        NODE_USE_ENV_PROXY: '1',
      },
      close: async () => {
        await container.remove({ force: true }).catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
        for (const session of sessions) session.destroy();
        wire.destroy();
        await proxy.close();
        await log.close();
      },
    };
  } catch (e) {
    sidecar?.wire.destroy();
    await proxy.close();
    await log.close();
    throw e;
  }
}

/**
 * The API's host and port, from its base URL (the scheme's port when none is written). Internal
 * addresses pass only for the environment's own URL: an item's secret may name another API, and a
 * control plane must not open 169.254.169.254 to its session that way.
 */
function apiOrigin(baseUrl: string | undefined, environmentUrl: string | undefined): { host: string; port: number; internal: boolean } | undefined {
  if (!baseUrl) return undefined;
  const url = new URL(baseUrl);
  return { host: url.hostname, port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)), internal: !!environmentUrl && new URL(environmentUrl).origin === url.origin };
}
