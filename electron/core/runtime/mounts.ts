import { realpathSync, statSync } from 'node:fs';
import { basename, posix, relative, resolve, sep, isAbsolute } from 'node:path';

export interface ReadOnlyMount {
  /** The host path, symlinks resolved: what Docker mounts, whatever a link points at later. */
  source: string;
  target: string;
}

/** Where a Docker engine's socket may be on this machine: handing it to a session hands it the host. */
function dockerSockets(): string[] {
  const fromEnv = /^unix:\/\/(.+)$/.exec(process.env['DOCKER_HOST'] ?? '')?.[1];
  return [...new Set(['/var/run/docker.sock', '/run/docker.sock', ...(fromEnv ? [fromEnv] : [])].map((p) => realOrSelf(p)))];
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** `inner` is `outer` or inside it. */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * An environment's read-only mounts, checked: each source resolved through its
 * symlinks, and refused when it is `/`, holds or is inside Outpost's data folder (keys' origins,
 * other sessions' workspaces, the egress sockets), or holds a Docker socket. Each target is
 * an absolute path that is not `/`, `/workspace` or inside it. Throws an Error in words.
 */
export function checkMounts(mounts: ReadonlyArray<{ source: string; target?: string | undefined }>, dataDir: string): ReadOnlyMount[] {
  const data = realOrSelf(dataDir);
  const sockets = dockerSockets();
  const targets = new Set<string>();
  return mounts.map(({ source, target }) => {
    let real: string;
    try {
      real = realpathSync(source);
      statSync(real);
    } catch (e) {
      throw new Error(`cannot mount ${source}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'there is no such file or folder' : (e as Error).message}`);
    }
    const via = real === source ? '' : ` (it leads to ${real})`;
    if (real === '/') throw new Error(`refused to mount ${source}${via}: the whole file system`);
    if (within(real, data) || within(data, real)) throw new Error(`refused to mount ${source}${via}: it holds or is inside Outpost’s data folder ${data}`);
    const socket = sockets.find((s) => within(real, s));
    if (socket) throw new Error(`refused to mount ${source}${via}: it holds the Docker socket ${socket}, which would hand the session the host`);
    const into = posix.normalize(target ?? `/mnt/${basename(real)}`);
    if (into === '/' || within('/workspace', into)) throw new Error(`refused to mount ${source} at ${into}: it would hide the session’s own files`);
    if (targets.has(into)) throw new Error(`refused to mount ${source} at ${into}: another folder is mounted there`);
    targets.add(into);
    return { source: real, target: into };
  });
}
