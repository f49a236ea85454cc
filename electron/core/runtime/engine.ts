import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import DockerClient from 'dockerode';
import type Docker from 'dockerode';
import { unsupportedDockerHost } from './docker-host.js';

/**
 * Which Docker engine Outpost talks to, found as the docker CLI finds it, so that Outpost and
 * `docker` on the same machine drive the same engine — and, past what the CLI knows, the sockets the
 * desktop engines leave where an app started from a dock or a desktop launcher (which inherits no
 * DOCKER_HOST from a shell profile) can find them.
 */
export interface EngineEndpoint {
  /** unix:///…, tcp://…, npipe://… */
  host: string;
  /** How it was found, in words for the log and `outpost doctor`. */
  foundBy: string;
  /** TLS material of a context's endpoint (~/.docker/contexts/tls/…), when it has some. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; skipVerify: boolean };
  /** dockerode reads DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) itself: given it, its own parse is kept. */
  fromEnvironment?: boolean;
}

export interface EngineSearch {
  /** --docker-host */
  flag?: string | undefined;
  /** The settings' dockerHost (the window's choice). */
  setting?: string | undefined;
  env?: NodeJS.ProcessEnv;
  home?: string;
  platform?: NodeJS.Platform;
}

/** A found engine, or why the one named cannot serve (ssh://). */
export type EngineChoice = { endpoint: EngineEndpoint; othersFound: string[] } | { problem: string };

/**
 * Sockets engines leave in well-known places, in the order tried. Sources: Docker Desktop
 * (docs.docker.com/desktop/setup/install/mac-permission-requirements: ~/.docker/run/docker.sock on
 * macOS; Desktop for Linux: ~/.docker/desktop/docker.sock), OrbStack (docs.orbstack.dev/docker:
 * ~/.orbstack/run/docker.sock), Colima (its FAQ: ~/.colima/default/docker.sock, older
 * ~/.colima/docker.sock), Rancher Desktop (~/.rd/docker.sock), Podman (`podman info`'s
 * remoteSocket: $XDG_RUNTIME_DIR/podman/podman.sock rootless, /run/podman/podman.sock rootful;
 * `podman machine inspect`'s PodmanSocket on macOS).
 */
function wellKnownSockets(home: string, env: NodeJS.ProcessEnv): Array<{ path: string; engine: string }> {
  const runtimeDir = env['XDG_RUNTIME_DIR'];
  return [
    { path: join(home, '.docker/run/docker.sock'), engine: 'Docker Desktop' },
    { path: join(home, '.docker/desktop/docker.sock'), engine: 'Docker Desktop' },
    { path: join(home, '.orbstack/run/docker.sock'), engine: 'OrbStack' },
    { path: join(home, '.colima/default/docker.sock'), engine: 'Colima' },
    { path: join(home, '.colima/docker.sock'), engine: 'Colima' },
    { path: join(home, '.rd/docker.sock'), engine: 'Rancher Desktop' },
    ...(runtimeDir ? [{ path: join(runtimeDir, 'podman/podman.sock'), engine: 'rootless Podman' }] : []),
    { path: '/run/podman/podman.sock', engine: 'Podman' },
    { path: join(home, '.local/share/containers/podman/machine/podman.sock'), engine: 'Podman machine' },
    { path: join(home, '.local/share/containers/podman/machine/podman-machine-default/podman.sock'), engine: 'Podman machine' },
  ];
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
/** Docker Desktop for Windows' named pipe: the CLI's default there. */
const DEFAULT_PIPE = 'npipe:////./pipe/docker_engine';

/**
 * The engine to use: --docker-host › the settings' choice › DOCKER_HOST › the current Docker context
 * (DOCKER_CONTEXT, else config.json's currentContext; `default` means none) › a well-known socket ›
 * /var/run/docker.sock. An ssh:// endpoint is refused in words (docker-host.ts says why).
 */
export function findEngine(search: EngineSearch = {}): EngineChoice {
  const env = search.env ?? process.env;
  const home = search.home ?? homedir();
  const platform = search.platform ?? process.platform;
  const USE_LOCAL = 'this machine’s engine (unix:///var/run/docker.sock, or the socket of Docker Desktop, Colima, OrbStack or Podman)';
  const named = (host: string, foundBy: string, from: { named: string; fix: string }, extra: Partial<EngineEndpoint> = {}): EngineChoice => {
    const problem = unsupportedDockerHost(host, from);
    return problem ? { problem } : { endpoint: { host: host.trim(), foundBy, ...extra }, othersFound: [] };
  };

  if (search.flag) return named(search.flag, 'the --docker-host flag', { named: '--docker-host', fix: `Give --docker-host ${USE_LOCAL}.` });
  if (search.setting) {
    const fix = `Choose ${USE_LOCAL} in Environments → This machine → Docker engine (dockerHost in settings.json), or clear it.`;
    return named(search.setting, 'the Docker engine setting (dockerHost in settings.json)', { named: 'The Docker engine setting', fix });
  }
  const fromEnv = env['DOCKER_HOST'];
  if (fromEnv) return named(fromEnv, 'DOCKER_HOST', { named: 'DOCKER_HOST=', fix: 'Unset DOCKER_HOST, or set it to this machine’s engine (unix:///var/run/docker.sock).' }, { fromEnvironment: true });

  const configDir = env['DOCKER_CONFIG'] || join(home, '.docker');
  const contextName = env['DOCKER_CONTEXT'] || readCurrentContext(configDir);
  if (contextName && contextName !== 'default') {
    const from = env['DOCKER_CONTEXT'] ? 'DOCKER_CONTEXT' : `${join(configDir, 'config.json')} (currentContext)`;
    const context = readContext(configDir, contextName);
    if ('problem' in context) return { problem: `the Docker context ${contextName} (named by ${from}): ${context.problem}` };
    const fix = `Switch the context (docker context use default, or unset DOCKER_CONTEXT), or give --docker-host ${USE_LOCAL}.`;
    return named(context.host, `the Docker context ${contextName} (named by ${from})`, { named: `The Docker context ${contextName} is`, fix }, context.tls ? { tls: context.tls } : {});
  }

  if (platform === 'win32') return { endpoint: { host: DEFAULT_PIPE, foundBy: 'the default named pipe of Docker Desktop for Windows' }, othersFound: [] };
  const found = [...wellKnownSockets(home, env), { path: DEFAULT_SOCKET, engine: 'Docker' }].filter((s) => isSocket(s.path));
  const [first, ...others] = found;
  if (!first) return { endpoint: { host: `unix://${DEFAULT_SOCKET}`, foundBy: `the default socket (${DEFAULT_SOCKET}; nothing is there now)` }, othersFound: [] };
  return {
    endpoint: { host: `unix://${first.path}`, foundBy: first.path === DEFAULT_SOCKET ? `the default socket ${DEFAULT_SOCKET}` : `${first.engine}'s socket ${first.path}` },
    othersFound: others.map((s) => `unix://${s.path}`),
  };
}

function readCurrentContext(configDir: string): string | undefined {
  try {
    const config = JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as { currentContext?: unknown };
    return typeof config.currentContext === 'string' && config.currentContext ? config.currentContext : undefined;
  } catch {
    // No config.json (a machine where the CLI never ran) or an unreadable one: the CLI, too, then uses the default.
    return undefined;
  }
}

/**
 * A context's docker endpoint, as the CLI stores it: contexts/meta/<sha256 of its name>/meta.json
 * holds Endpoints.docker.Host (and SkipTLSVerify); contexts/tls/<same>/docker/ holds ca.pem, cert.pem, key.pem.
 */
function readContext(configDir: string, name: string): { host: string; tls?: EngineEndpoint['tls'] } | { problem: string } {
  const id = createHash('sha256').update(name).digest('hex');
  let meta: { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  try {
    meta = JSON.parse(readFileSync(join(configDir, 'contexts/meta', id, 'meta.json'), 'utf8')) as typeof meta;
  } catch (e) {
    return { problem: `it is not there or not readable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); docker context ls lists those there are` };
  }
  const host = meta.Endpoints?.docker?.Host;
  if (typeof host !== 'string' || !host) return { problem: 'it names no Docker endpoint (Endpoints.docker.Host)' };
  const tlsDir = join(configDir, 'contexts/tls', id, 'docker');
  const read = (file: string) => {
    try {
      return readFileSync(join(tlsDir, file));
    } catch {
      return undefined;
    }
  };
  const [ca, cert, key] = [read('ca.pem'), read('cert.pem'), read('key.pem')];
  const skipVerify = meta.Endpoints?.docker?.SkipTLSVerify === true;
  return ca || cert || key || skipVerify ? { host, tls: { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}), skipVerify } } : { host };
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** dockerode's options for an endpoint. DOCKER_HOST's are left to dockerode (it reads the TLS variables beside it). */
export function dockerOptionsFor(endpoint: EngineEndpoint): Docker.DockerOptions | undefined {
  if (endpoint.fromEnvironment) return undefined;
  const url = new URL(endpoint.host.replace(/^tcp:/i, endpoint.tls ? 'https:' : 'http:'));
  if (url.protocol === 'unix:') return { socketPath: decodeURIComponent(url.pathname) };
  // npipe:////./pipe/docker_engine: the pipe's path is what follows the scheme, with its slashes.
  if (url.protocol === 'npipe:') return { socketPath: endpoint.host.slice('npipe://'.length).replace(/\//g, '\\') };
  const tls = endpoint.tls;
  return {
    host: url.hostname,
    port: url.port || (tls ? '2376' : '2375'),
    protocol: tls ? 'https' : 'http',
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
  };
}

/** A dockerode client for the engine found, or why none can be made. */
export function openEngine(search: EngineSearch = {}): { docker: Docker; endpoint: EngineEndpoint; othersFound: string[] } | { problem: string } {
  const choice = findEngine(search);
  if ('problem' in choice) return choice;
  return { docker: new DockerClient(dockerOptionsFor(choice.endpoint)), ...choice };
}

/**
 * Every place an engine's socket may be on this machine — those found or not, and the endpoint the
 * search chose (DOCKER_HOST, a context): a folder holding one is never given to a session (mounts.ts),
 * as handing a session the engine's socket hands it the host.
 */
export function knownEngineSockets(search: EngineSearch = {}): string[] {
  const env = search.env ?? process.env;
  const home = search.home ?? homedir();
  const chosen = findEngine(search);
  const chosenPath = 'endpoint' in chosen ? /^unix:\/\/(.+)$/i.exec(chosen.endpoint.host)?.[1] : undefined;
  // The desktop engines' only where they are now: a home that merely could hold one someday stays the user's to share.
  const present = wellKnownSockets(home, env).map((s) => s.path).filter(isSocket);
  return [...present, DEFAULT_SOCKET, '/run/docker.sock', ...(chosenPath ? [chosenPath] : [])];
}
