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

/** What a session's egress path is opened with, before any item is known (a warm session's) or for one. */
export interface EgressPathOptions {
  settings: EgressSettings;
  /** `open`: the profile's Docker network mode. */
  openNetworkMode: string;
  /**
   * The control plane the session runner will call: its host, when a loopback name, is left out of
   * NO_PROXY, so the runner reaches it through the proxy (a control plane on this machine is not in the
   * session's namespace). A warm path is opened with the environment's URL; an item naming another
   * such host is served cold (`serves`).
   */
  apiBaseUrl?: string;
  docker: Docker;
  /** The sidecar's name and labels (the session's own, so recovery sweeps both). */
  name: string;
  labels: Record<string, string>;
  /** Who the sidecar runs as: the session's own uid (it holds nothing of the host's). */
  user: SessionUser;
  /** The sidecar's user namespace, which its session joins with its network namespace (user-mapping.ts). */
  usernsMode?: string;
}

/** The item a path serves: what its proxy allows (the item's API origin) and where its connections are written. */
export interface ItemEgress {
  /** The control plane the session runner calls (its host and port pass under `api` and `allowlist`). */
  apiBaseUrl?: string;
  workId: string;
  /** The session's log: one line per connection. */
  logFile: string;
  /** The session's connections as JSON lines, for the window's Network view after the session. */
  recordFile: string;
  onConnection?: (connection: EgressConnection) => void;
}

export type SessionEgressOptions = EgressPathOptions & ItemEgress;

/** What the session container gets: its network mode and the environment that points its tools at the proxy. */
export interface SessionEgress {
  networkMode: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** A session's egress opened before its item: it refuses everything, and logs nothing, until `bind`. */
export interface EgressPath extends SessionEgress {
  /** Whether an item calling `apiBaseUrl` can be served on this path (its variables were fixed at start). */
  serves(apiBaseUrl: string | undefined): boolean;
  /** The item's rules and log from here on. */
  bind(item: ItemEgress): void;
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

/**
 * A session's egress, by its environment's policy: `open` is the profile's Docker network;
 * `none` is loopback only; `api` and `allowlist` are loopback plus a forwarder sidecar whose attach
 * stream carries each connection, as an HTTP/2 stream, to a proxy in this process that decides it and
 * logs it. The session cannot reconfigure any of it, and never sees that stream.
 */
export async function openSessionEgress(opts: SessionEgressOptions): Promise<SessionEgress> {
  const path = await openEgressPath(opts);
  path.bind(opts);
  return path;
}

/**
 * A session's egress path, opened before its item is known: a warm session and its sidecar wait as
 * a pair, holding no credential and no item, and the proxy gets the item's rules at the handover.
 */
export async function openEgressPath(opts: EgressPathOptions): Promise<EgressPath> {
  const { policy } = opts.settings;
  const fixed = (networkMode: string): EgressPath => ({ networkMode, env: {}, serves: () => true, bind: () => {}, close: async () => {} });
  if (policy === 'open') return fixed(opts.openNetworkMode);
  if (policy === 'none') return fixed('none');

  const nearApi = (apiBaseUrl: string | undefined) => (apiBaseUrl ? normalHost(new URL(apiBaseUrl).hostname) : undefined);
  const proxied = nearApi(opts.apiBaseUrl);
  let log: ConnectionLog | undefined;
  const proxy = EgressProxy.create({
    // No item yet: nothing leaves, and nothing is written (the session has made no connection of its own).
    rules: new EgressPolicyRules({ policy: 'none', allowHosts: [] }),
    onConnection: () => {},
    ...(opts.settings.resolve ? { resolve: opts.settings.resolve } : {}),
  });
  const server = createServer({ settings: { initialWindowSize: STREAM_WINDOW } });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.once('remoteSettings', () => session.setLocalWindowSize(SESSION_WINDOW));
    // A broken stream is the forwarder's to report (it tells the session); here it only must not throw.
    session.on('error', (e) => log?.note(`the egress stream failed: ${e.message}`));
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
  const sidecar: EgressSidecar = await startEgressSidecar(opts.docker, {
    name: opts.name,
    labels: opts.labels,
    user: opts.user,
    ...(opts.usernsMode ? { usernsMode: opts.usernsMode } : {}),
    onNote: (line) => log?.note(`forwarder: ${line}`),
  }).catch(async (e: unknown) => {
    await proxy.close();
    throw e;
  });
  server.emit('connection', sidecar.wire);
  const proxyUrl = `http://127.0.0.1:${EGRESS_PORT}`;
  const local = LOOPBACK_NAMES.filter((name) => name !== proxied);
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
    serves: (apiBaseUrl) => {
      const host = nearApi(apiBaseUrl);
      return host === proxied || !host || !LOOPBACK_NAMES.includes(host);
    },
    bind: (item) => {
      const api = apiOrigin(item.apiBaseUrl, opts.settings.environmentUrl);
      const rules = new EgressPolicyRules({ policy, allowHosts: opts.settings.allowHosts, ...(api ? { api } : {}) });
      log = new ConnectionLog(item, item.onConnection);
      const bound = log;
      proxy.bind(rules, (record) => bound.add(record));
    },
    close: async () => {
      await container.remove({ force: true }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
      for (const session of sessions) session.destroy();
      wire.destroy();
      await proxy.close();
      await log?.close();
    },
  };
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
