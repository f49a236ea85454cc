import type Docker from 'dockerode';

/** What the engine is, in the words the log, the window and `outpost doctor` use. */
export interface EngineDescription {
  /** Docker, Docker Desktop, Podman, OrbStack, Colima, Rancher Desktop. */
  kind: string;
  version: string;
  rootless: boolean;
  /** User namespaces remap the container's root (userns-remap, or any rootless engine). */
  userNamespaces: boolean;
  cgroupVersion: string | undefined;
  /** What this engine cannot enforce of a session's limits, each in a sentence; none when all hold. */
  unenforced: string[];
}

/** The parts of GET /version and GET /info read here (Docker Engine API; Podman's compat API answers the same fields). */
export interface EngineVersion {
  Version?: string;
  Platform?: { Name?: string };
  Components?: Array<{ Name?: string; Version?: string }>;
}
export interface EngineInfo {
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  CpuCfsQuota?: boolean;
  PidsLimit?: boolean;
  CgroupVersion?: string;
  CgroupDriver?: string;
  SecurityOptions?: string[];
  OperatingSystem?: string;
  Name?: string;
}

/** Podman's own word on rootlessness, which its compat /info leaves out (below); others' descriptions pass as they are. */
export async function withPodmanRootless(docker: Docker, description: EngineDescription, info: EngineInfo, abortSignal?: AbortSignal): Promise<EngineDescription> {
  if (description.kind !== 'Podman' || description.rootless || !(await podmanRootless(docker, abortSignal))) return description;
  return { ...description, rootless: true, userNamespaces: true, unenforced: unenforcedLimits(info, true) };
}

/**
 * Podman's compat /info lists no `name=rootless` (4.3 was seen not to): its own API says, in
 * GET /libpod/info → host.security.rootless (docs.podman.io/en/latest/_static/api.html, "SystemInfoLibpod").
 * An answer without it (an older Podman's 404) is taken as rootful; no answer within the deadline is no
 * answer at all, not a rootful one: the caller learns it and asks again later.
 */
async function podmanRootless(docker: Docker, abortSignal?: AbortSignal): Promise<boolean> {
  try {
    const info = await new Promise<{ host?: { security?: { rootless?: unknown } } }>((resolve, reject) =>
      docker.modem.dial(
        { path: '/v4.0.0/libpod/info', method: 'GET', statusCodes: { 200: true }, ...(abortSignal ? { abortSignal } : {}) },
        (e, answer) => (e ? reject(e) : resolve(answer as never)),
      ),
    );
    return info?.host?.security?.rootless === true;
  } catch (e) {
    if (abortSignal?.aborted) throw e;
    return false;
  }
}

/**
 * Read what /version and /info say. The kind: Podman names its component "Podman Engine"; Docker
 * Desktop names its platform (and its OperatingSystem) "Docker Desktop …"; OrbStack's OperatingSystem
 * is "OrbStack"; Colima's and Rancher Desktop's VMs are named colima… and lima-rancher-desktop.
 * Rootless: Docker and Podman both list `name=rootless` among SecurityOptions; `name=userns` is userns-remap.
 */
export function engineDescription(version: EngineVersion, info: EngineInfo): EngineDescription {
  const components = version.Components ?? [];
  const podman = components.find((c) => /podman/i.test(c.Name ?? ''));
  const engine = podman ?? components.find((c) => c.Name === 'Engine');
  const platform = version.Platform?.Name ?? '';
  const os = info.OperatingSystem ?? '';
  const name = info.Name ?? '';
  const kind =
    podman ? 'Podman'
    : /docker desktop/i.test(platform) || /docker desktop/i.test(os) ? 'Docker Desktop'
    : /orbstack/i.test(os) ? 'OrbStack'
    : /rancher-desktop/i.test(name) ? 'Rancher Desktop'
    : /^colima/i.test(name) ? 'Colima'
    : 'Docker';
  const security = info.SecurityOptions ?? [];
  const rootless = security.some((o) => /(^|,)name=rootless(,|$)/.test(o));
  const userNamespaces = rootless || security.some((o) => /(^|,)name=userns(,|$)/.test(o));
  return {
    kind,
    version: engine?.Version ?? version.Version ?? 'unknown',
    rootless,
    userNamespaces,
    cgroupVersion: info.CgroupVersion,
    unenforced: unenforcedLimits(info, rootless),
  };
}

/**
 * The session limits (--cpus, --memory, --pids) this engine would accept and not enforce. Docker
 * sets MemoryLimit, CpuCfsQuota and PidsLimit false when the cgroup controller is missing, and then
 * drops the limit with at most a create warning. A rootless engine on cgroup v1 cannot delegate
 * cgroups to the user at all (docs.docker.com/engine/security/rootless: "Limiting resources"
 * needs cgroup v2 and systemd), yet may report them true: a pids limit was seen not to hold there.
 */
function unenforcedLimits(info: EngineInfo, rootless: boolean): string[] {
  if ((rootless && info.CgroupVersion !== '2') || info.CgroupDriver === 'none') {
    return [
      `this ${rootless ? 'rootless ' : ''}engine${info.CgroupVersion ? ` on cgroup v${info.CgroupVersion}` : ''} enforces no memory, CPU or process limit: a session can use all of this machine's memory, CPUs and processes (rootless engines need cgroup v2 with systemd's delegation for limits)`,
    ];
  }
  const out: string[] = [];
  if (info.MemoryLimit === false) out.push('memory limits (--memory) are not enforced: the engine has no memory cgroup');
  else if (info.SwapLimit === false) out.push('swap is not limited: a session can use swap beyond its memory limit (the kernel has no swap accounting)');
  if (info.CpuCfsQuota === false) out.push('CPU limits (--cpus) are not enforced: the engine has no CFS quota');
  if (info.PidsLimit === false) out.push('process limits (--pids) are not enforced: the engine has no pids cgroup');
  return out;
}

/** One line that names the engine: `Podman 4.3.1 (rootful, cgroup v1) at unix:///run/podman.sock, found by DOCKER_HOST`. */
export function engineLine(description: EngineDescription, host: string, foundBy: string): string {
  const traits = [description.rootless ? 'rootless' : 'rootful', ...(description.cgroupVersion ? [`cgroup v${description.cgroupVersion}`] : [])];
  if (!description.rootless && description.userNamespaces) traits.push('user namespaces remapped');
  return `${description.kind} ${description.version} (${traits.join(', ')}) at ${host}, found by ${foundBy}`;
}
