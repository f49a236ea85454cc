import { realpathSync, statSync } from 'node:fs';
import DockerClient from 'dockerode';
import type Docker from 'dockerode';
import { z } from 'zod';
import type { EngineFound, EngineReport } from '../../../shared/contract.js';
import { deadline } from '../base/timing.js';
import { dockerOptionsFor, findEngine, knownEngineSockets, type EngineEndpoint, type EngineSearch } from './engine.js';
import { engineDescription, engineLine, withPodmanRootless, type EngineDescription } from './engine-info.js';

/** An engine that has not answered in this long is said not to (a hung socket must not hang the window's view). */
const ASK_MS = 5000;

// What the engine says is outside input (a proxy, another user's engine): read through zod, every string
// cut short, every field optional and of its type or dropped — a field of the wrong type reads as absent.
const text = (max: number) => z.string().transform((s) => s.slice(0, max)).optional().catch(undefined);
const flag = z.boolean().optional().catch(undefined);
const versionSchema = z.object({
  Version: text(200),
  Platform: z.object({ Name: text(200) }).optional().catch(undefined),
  Components: z.array(z.object({ Name: text(200), Version: text(200) }).catch({})).max(50).optional().catch(undefined),
});
const infoSchema = z.object({
  MemoryLimit: flag,
  SwapLimit: flag,
  CpuCfsQuota: flag,
  PidsLimit: flag,
  CgroupVersion: text(20),
  CgroupDriver: text(50),
  SecurityOptions: z.array(z.string().transform((s) => s.slice(0, 500))).max(50).optional().catch(undefined),
  OperatingSystem: text(200),
  Name: text(200),
});

/**
 * What the engine is (GET /version and /info, read through zod; Podman's /libpod/info too), or throws
 * when it has not answered all within `ms`: the worker, the window and `outpost doctor` ask it so.
 */
export async function askEngine(docker: Docker, ms = ASK_MS): Promise<EngineDescription> {
  // The deadline aborts both requests: a hung engine's sockets are closed, not left open per ask.
  const abortSignal = deadline(ms);
  try {
    // dockerode's version() and info() take { abortSignal } (lib/docker.js), which its types leave out.
    const withSignal = docker as unknown as { version(o: { abortSignal: AbortSignal }): Promise<unknown>; info(o: { abortSignal: AbortSignal }): Promise<unknown> };
    const [version, info] = await Promise.all([withSignal.version({ abortSignal }), withSignal.info({ abortSignal })]);
    const engineInfo = infoSchema.parse(info ?? {});
    return await withPodmanRootless(docker, engineDescription(versionSchema.parse(version ?? {}), engineInfo), engineInfo, abortSignal);
  } catch (e) {
    throw abortSignal.aborted ? new Error(`no answer within ${ms / 1000} s`) : e;
  }
}

/** The engine at an endpoint, named in one line, or why nothing answers there. */
export async function engineFound(endpoint: EngineEndpoint, docker: Docker): Promise<EngineFound> {
  try {
    const engine = await askEngine(docker);
    return { host: endpoint.host, foundBy: endpoint.foundBy, engine, line: engineLine(engine, endpoint.host, endpoint.foundBy) };
  } catch (e) {
    return { host: endpoint.host, foundBy: endpoint.foundBy, error: `nothing answers: ${(e as Error).message}` };
  }
}

/**
 * Every engine this machine offers, as the docker CLI's search would find one with nothing chosen
 * (DOCKER_HOST, the current context, else the first socket there) first, then every other engine's
 * socket that is there now. One socket reached by two paths (/run/docker.sock, /var/run/docker.sock) is one engine.
 */
export function engineCandidates(search: Omit<EngineSearch, 'flag' | 'setting'> = {}, inUse?: EngineEndpoint): EngineEndpoint[] {
  const out: EngineEndpoint[] = [];
  const seen = new Set<string>();
  const add = (endpoint: EngineEndpoint) => {
    const path = /^unix:\/\/(.+)$/i.exec(endpoint.host)?.[1];
    const key = path ? realPath(path) : endpoint.host;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(endpoint);
  };
  if (inUse) add(inUse);
  const automatic = findEngine(search);
  if ('endpoint' in automatic) add(automatic.endpoint);
  for (const path of knownEngineSockets(search)) if (isSocket(path)) add({ host: `unix://${path}`, foundBy: `its socket ${path}` });
  return out;
}

/**
 * The window's account of the engine: the one in use (as found when Outpost opened) and every one
 * found here, each asked at once what it is; whether the saved setting names another, for the next open.
 */
export async function engineReport(opts: {
  inUse: { endpoint: EngineEndpoint; docker: Docker } | { problem: string };
  setting: string;
  /** --docker-host: it wins over the setting. */
  flag?: string | undefined;
  search?: Omit<EngineSearch, 'flag' | 'setting'>;
}): Promise<EngineReport> {
  const inUse = 'endpoint' in opts.inUse ? opts.inUse : undefined;
  const others = engineCandidates(opts.search, inUse?.endpoint).slice(inUse ? 1 : 0);
  const [current, ...found] = await Promise.all([
    inUse ? engineFound(inUse.endpoint, inUse.docker) : Promise.resolve(null),
    ...others.map((c) => engineFound(c, new DockerClient(dockerOptionsFor(c)))),
  ]);
  const next = findEngine({ ...opts.search, flag: opts.flag, setting: opts.setting || undefined });
  const nextHost = 'endpoint' in next ? next.endpoint.host : undefined;
  return {
    inUse: current ?? null,
    ...('problem' in opts.inUse ? { problem: opts.inUse.problem } : {}),
    found: [...(current ? [current] : []), ...found],
    setting: opts.setting,
    settingPending: (inUse?.endpoint.host ?? undefined) !== nextHost,
  };
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
