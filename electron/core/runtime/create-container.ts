import type Docker from 'dockerode';

/**
 * `POST /containers/create`, as dockerode's createContainer makes it, keeping what dockerode drops:
 * the answer's `Warnings` (Docker Engine API, ContainerCreateResponse). An engine that cannot enforce
 * a limit it was given (no swap accounting, no pids cgroup, OomKillDisable without a memory limit)
 * creates the container anyway and says so only there.
 */
export function createContainer(docker: Docker, options: Docker.ContainerCreateOptions): Promise<{ container: Docker.Container; warnings: string[] }> {
  if (options.HostConfig?.UsernsMode !== 'keep-id') return create(docker, options);
  const created = (keepIdCreates.get(docker) ?? Promise.resolve()).then(() => create(docker, options));
  keepIdCreates.set(docker, created.then(noop, noop));
  return created;
}

/**
 * Rootless Podman crashes (SIGSEGV in libsubid's subid_get_gid_ranges, which is not thread-safe) when
 * two keep-id creates look up the user's subordinate ids at once: seen here with 4.3.1, a warm container
 * and a session created together; containers/storage#2030. So an engine's keep-id creates go one at a time.
 */
const keepIdCreates = new WeakMap<Docker, Promise<void>>();
const noop = () => {};

function create(docker: Docker, options: Docker.ContainerCreateOptions): Promise<{ container: Docker.Container; warnings: string[] }> {
  return new Promise((resolve, reject) => {
    (docker.modem as CreateDial).dial(
      {
        path: '/containers/create?',
        method: 'POST',
        options,
        statusCodes: { 200: true, 201: true, 400: 'bad parameter', 404: 'no such image', 406: 'impossible to attach', 409: 'conflict', 500: 'server error' },
      },
      (err, data) => {
        if (err || !data) return reject(err ?? new Error('the engine answered the create with nothing'));
        const warnings = Array.isArray(data.Warnings) ? data.Warnings.filter((w): w is string => typeof w === 'string' && w.trim() !== '') : [];
        resolve({ container: docker.getContainer(data.Id), warnings });
      },
    );
  });
}

/** The one call of docker-modem's made here (dockerode types the modem as any). */
interface CreateDial {
  dial(
    options: { path: string; method: 'POST'; options: Docker.ContainerCreateOptions; statusCodes: Record<number, true | string> },
    callback: (err: Error | null, data?: { Id: string; Warnings?: unknown[] | null }) => void,
  ): void;
}
