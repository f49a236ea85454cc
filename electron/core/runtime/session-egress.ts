import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EgressConnection } from '../../../shared/contract.js';
import type { EgressPolicy } from '../../../shared/egress.js';
import { PRIVATE_DIR_MODE, within } from '../store/paths.js';
import { EGRESS_PORT, startEgressSidecar } from './egress-sidecar.js';
import { LABEL } from './labels.js';
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
  /** The data folder's egress/ folder: the proxy's socket folder is made in it. */
  egressRoot: string;
  /** The sidecar's name and labels (the session's own, so recovery sweeps both). */
  name: string;
  labels: Record<string, string>;
  /** Who the sidecar runs as: it must reach the socket (Outpost run as root chowns the folder to it). */
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
 * `none` is loopback only; `api` and `allowlist` are loopback plus a forwarder sidecar to a proxy in
 * this process, which decides each connection and logs it. The session cannot reconfigure any of it.
 */
export async function openSessionEgress(opts: SessionEgressOptions): Promise<SessionEgress> {
  const { policy } = opts.settings;
  if (policy === 'open') return { networkMode: opts.openNetworkMode, env: {}, close: async () => {} };
  if (policy === 'none') return { networkMode: 'none', env: {}, close: async () => {} };

  const api = apiOrigin(opts.apiBaseUrl, opts.settings.environmentUrl);
  const rules = new EgressPolicyRules({ policy, allowHosts: opts.settings.allowHosts, ...(api ? { api } : {}) });
  // Short and random: a unix socket's path has room for about 107 bytes; a work id may be 128.
  const dirName = randomBytes(6).toString('hex');
  const dir = within(opts.egressRoot, dirName);
  const socketPath = join(dir, 'proxy.sock');
  if (Buffer.byteLength(socketPath) > 103) throw new Error(`the data folder's path is too long for the egress proxy's socket (${socketPath}); choose a shorter --data-dir`);
  mkdirSync(dir, { mode: PRIVATE_DIR_MODE });
  const log = new ConnectionLog(opts, opts.onConnection);
  let proxy: EgressProxy | undefined;
  try {
    proxy = await EgressProxy.listen({ rules, socketPath, onConnection: (record) => log.add(record), ...(opts.settings.resolve ? { resolve: opts.settings.resolve } : {}) });
    if (process.getuid?.() === 0) {
      chownSync(dir, opts.user.uid, opts.user.gid);
      chownSync(socketPath, opts.user.uid, opts.user.gid);
    }
    const sidecar = await startEgressSidecar(opts.docker, { name: opts.name, labels: { ...opts.labels, [LABEL.egressDir]: dirName }, socketDir: dir, user: opts.user });
    const proxyUrl = `http://127.0.0.1:${EGRESS_PORT}`;
    const local = LOOPBACK_NAMES.filter((name) => name !== (api && normalHost(api.host)));
    const listening = proxy;
    return {
      networkMode: `container:${sidecar.id}`,
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
        await sidecar.remove({ force: true }).catch((e: { statusCode?: number }) => {
          if (e.statusCode !== 404) throw e;
        });
        await listening.close();
        rmSync(dir, { recursive: true, force: true });
        await log.close();
      },
    };
  } catch (e) {
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
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
