import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, join, posix, relative, resolve, sep, isAbsolute } from 'node:path';
import { knownEngineSockets } from './engine.js';

export interface ReadOnlyMount {
  /** The host path, symlinks resolved at the moment it was judged: what Docker mounts. */
  source: string;
  target: string;
}

/** A folder as the user named it: judged again at each container create (see ReadOnlyMounts). */
export interface MountRequest {
  source: string;
  target?: string | undefined;
}

/**
 * An environment's read-only folders, as asked for. A folder judged once could be swapped for a
 * symlink to the data folder (or anything else) after the check and still be mounted by its old
 * name, so each container create calls `resolve()`: judged at that moment, and the path Docker gets
 * is the real path judged then, not the name.
 */
export class ReadOnlyMounts {
  constructor(
    readonly requested: readonly MountRequest[],
    readonly dataDir: string,
  ) {}

  /** The mounts, each resolved and judged now; throws an Error in words when one is refused. */
  resolve(): ReadOnlyMount[] {
    return checkMounts(this.requested, this.dataDir);
  }
}

/**
 * File systems that are the kernel's or the host's own state, never a user's files: /proc gives
 * every process's environment and open files (a root worker's sessions each other's tokens), /sys
 * and cgroups the kernel's knobs, devtmpfs the host's devices, nsfs other namespaces.
 */
const SPECIAL_FILE_SYSTEMS = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'cgroup', 'cgroup2', 'securityfs', 'debugfs', 'tracefs', 'bpf', 'pstore', 'configfs',
  'fusectl', 'mqueue', 'hugetlbfs', 'binfmt_misc', 'efivarfs', 'selinuxfs', 'nsfs', 'rpc_pipefs', 'autofs', 'fuse.lxcfs',
]);
/** A tmpfs is an ordinary temp folder, except where runtime state lives (sockets, user runtime folders, shared memory). */
const RUNTIME_TMPFS_UNDER = ['/run', '/var/run', '/dev', '/sys'];

/** How many entries beneath a folder are looked at for a socket: a project's shallow levels, where sockets are put. */
const SOCKET_WALK_LIMIT = 20_000;

/** Places that are not files a session should read, by what they hold. */
function protectedPlaces(): Array<{ path: string; what: string }> {
  const home = safeHome();
  const places = [
    { path: '/proc', what: 'the kernel’s view of every process' },
    { path: '/sys', what: 'the kernel’s settings' },
    { path: '/dev', what: 'the host’s devices' },
    { path: '/etc', what: 'the system’s configuration' },
    { path: '/boot', what: 'the system’s boot files' },
    { path: '/run', what: 'runtime state (engine sockets, every user’s runtime folder)' },
    { path: '/var/run', what: 'runtime state (engine sockets, every user’s runtime folder)' },
    ...['/var/lib/docker', '/var/lib/containerd', '/var/lib/containers', '/var/lib/kubelet'].map((path) => ({ path, what: 'a container engine’s state' })),
    // Rootless engines keep their state in the user's home.
    ...(home ? [join(home, '.local/share/docker'), join(home, '.local/share/containers')].map((path) => ({ path, what: 'a container engine’s state' })) : []),
    { path: '/root', what: 'root’s home' },
    ...otherUsersHomes().map(({ name, home: path }) => ({ path, what: `another user’s home (${name})` })),
  ];
  return places.map((p) => ({ ...p, path: realOrSelf(p.path) }));
}

function safeHome(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

/** Login accounts' homes (uid 0 and 1000–59999) other than this process's user's. */
function otherUsersHomes(): Array<{ name: string; home: string }> {
  const uid = process.getuid?.();
  if (uid === undefined) return [];
  let own: string | undefined;
  try {
    own = userInfo().homedir;
  } catch {
    own = undefined;
  }
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return [];
  }
  const homes: Array<{ name: string; home: string }> = [];
  for (const line of passwd.split('\n')) {
    const [name, , uidText, , , home] = line.split(':');
    const id = Number(uidText);
    if (!name || !home || !isAbsolute(home) || home === '/' || home === '/nonexistent') continue;
    if (!(id === 0 || (id >= 1000 && id < 60_000))) continue;
    // Root's own home is refused whoever runs (above); a desktop user's own home is theirs to share.
    if (id === uid && id !== 0 && home === own) continue;
    homes.push({ name, home });
  }
  return homes;
}

/** Where a Docker engine's socket may be on this machine (engine.ts: the desktop engines', Podman's, a context's): handing it to a session hands it the host. */
function dockerSockets(): string[] {
  return [...new Set(knownEngineSockets().map((p) => realOrSelf(p)))];
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

/** Each mount of this process's view: where it is and its file system type (/proc/self/mountinfo). */
function mountTable(): Array<{ at: string; type: string }> {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return []; // Not Linux: the places above still apply.
  }
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 6)
    .map((f) => ({ at: unescape(f[4]!), type: f[f.indexOf('-') + 1] ?? '' }));
}

function specialMount(at: string, type: string): string | undefined {
  if (SPECIAL_FILE_SYSTEMS.has(type)) return `a ${type} file system`;
  if (type === 'tmpfs' && RUNTIME_TMPFS_UNDER.some((p) => within(p, at))) return 'a tmpfs of runtime state';
  return undefined;
}

/** Why the file system `real` is on is no user's files; undefined when it is. */
function specialFileSystemOf(real: string, table: ReturnType<typeof mountTable>): string | undefined {
  let on: { at: string; type: string } | undefined;
  for (const m of table) if (within(m.at, real) && (!on || m.at.length >= on.at.length)) on = m;
  const special = on && specialMount(on.at, on.type);
  return special ? `it is on ${special} (${on!.at})` : undefined;
}

/** A special file system mounted beneath `real`: Docker binds a folder with what is mounted inside it. */
function specialFileSystemBeneath(real: string, table: ReturnType<typeof mountTable>): string | undefined {
  const beneath = table.find((m) => m.at !== real && within(real, m.at) && specialMount(m.at, m.type));
  return beneath ? `it holds ${specialMount(beneath.at, beneath.type)} at ${beneath.at}` : undefined;
}

/**
 * The first unix socket at or beneath `real`, breadth first, symlinks not followed (inside the
 * container one points into the container), at most SOCKET_WALK_LIMIT entries: a socket is a door
 * to whatever serves it — an engine's (`/var/run/docker/containerd`) hands the session the host.
 */
function socketBeneath(real: string): string | undefined {
  if (statSync(real).isSocket()) return real;
  const queue = [real];
  let seen = 0;
  while (queue.length && seen < SOCKET_WALK_LIMIT) {
    const folder = queue.shift()!;
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      continue; // Unreadable to Outpost: unreadable to a session running as its user too.
    }
    for (const entry of entries) {
      if (++seen > SOCKET_WALK_LIMIT) break;
      const path = join(folder, entry.name);
      if (entry.isSocket()) return path;
      if (entry.isDirectory()) queue.push(path);
    }
  }
  return undefined;
}

/** Why `real` must not be mounted into a session, in words; undefined when it may. */
function refusal(real: string, dataDir: string): string | undefined {
  if (real === '/') return 'the whole file system';
  const data = realOrSelf(dataDir);
  if (within(real, data) || within(data, real)) return `it holds or is inside Outpost’s data folder ${data}`;
  const table = mountTable();
  const special = specialFileSystemOf(real, table);
  if (special) return special;
  const places = protectedPlaces();
  const inside = places.find((place) => within(place.path, real));
  if (inside) return `it is ${inside.what} (${inside.path})`;
  const holds = places.find((place) => within(real, place.path));
  if (holds) return `it holds ${holds.what} (${holds.path})`;
  const beneath = specialFileSystemBeneath(real, table);
  if (beneath) return beneath;
  const docker = dockerSockets().find((s) => within(real, s));
  if (docker) return `it holds the Docker socket ${docker}, which would hand the session the host`;
  const socket = socketBeneath(real);
  if (socket) return `it holds the socket ${socket}, a door to whatever serves it (a container engine's would hand the session the host)`;
  return undefined;
}

/**
 * An environment's read-only mounts, judged now: each source resolved through its symlinks, and
 * refused by what it is — `/`, Outpost's data folder or anything inside or above it, a special file
 * system (proc, sysfs, devtmpfs, cgroup, a tmpfs of runtime state, …) or one mounted beneath it,
 * runtime and engine state, system configuration, root's or another user's home, or a folder that
 * holds a unix socket. Each target is an absolute path that is not `/`, `/workspace` or inside it.
 * Throws an Error in words.
 */
export function checkMounts(mounts: readonly MountRequest[], dataDir: string): ReadOnlyMount[] {
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
    const why = refusal(real, dataDir);
    if (why) throw new Error(`refused to mount ${source}${via}: ${why}`);
    const into = posix.normalize(target ?? `/mnt/${basename(real)}`);
    if (into === '/' || within('/workspace', into)) throw new Error(`refused to mount ${source} at ${into}: it would hide the session’s own files`);
    if (targets.has(into)) throw new Error(`refused to mount ${source} at ${into}: another folder is mounted there`);
    targets.add(into);
    return { source: real, target: into };
  });
}
