import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, writeFileSync, rmSync, readdirSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { createServer, connect, type Server } from 'node:net';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CONTROL_PLANE_ID, quoteId } from '../../../shared/ids.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './modes.js';
import { emptyFolderOffThread } from './trash.js';

const EGRESS_SUFFIX = '.egress.jsonl';

export { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE };

/**
 * Where Outpost keeps its files: one folder per install (the desktop app's user-data folder, or --data-dir).
 * The folder and every folder in it are 0700, its files 0600: a session's workspace lives here, and no
 * other local user may reach what a session left (DESIGN §4). A folder an older Outpost made with the
 * umask's mode is tightened when opened.
 */
export class DataPaths {
  constructor(readonly root: string) {
    for (const dir of [this.root, join(this.root, 'logs'), this.sessionLogs, this.workspaces, this.leases, this.instances]) {
      mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
      chmodSync(dir, PRIVATE_DIR_MODE);
    }
    // Settings, history, install id, the app's log, written by an older Outpost with the umask's mode.
    for (const name of readdirSync(this.root)) {
      const file = join(this.root, name);
      if (lstatSync(file).isFile()) chmodSync(file, PRIVATE_FILE_MODE);
    }
  }

  get sessionLogs(): string {
    return join(this.root, 'logs', 'sessions');
  }
  get workspaces(): string {
    return join(this.root, 'workspaces');
  }
  /** Claims on work items, one file each (worker/claims.ts owns them). */
  get leases(): string {
    return join(this.root, 'leases');
  }
  get instances(): string {
    return join(this.root, 'instances');
  }
  /** Where an older Outpost kept each session's egress proxy socket: startup recovery removes what it left. */
  get egress(): string {
    return join(this.root, 'egress');
  }

  /** A session's log. Throws on an id that is not a control-plane id (DESIGN §4). */
  sessionLog(environmentId: string, workId: string): string {
    return within(this.sessionLogs, `${sessionKey(environmentId, workId)}.log`);
  }
  /** A session's egress connections, one JSON line each (egress/connection-log.ts). Throws on an id that is not a control-plane id. */
  sessionEgress(environmentId: string, workId: string): string {
    return within(this.sessionLogs, `${sessionKey(environmentId, workId)}${EGRESS_SUFFIX}`);
  }
  /** A session's /workspace. Throws on an id that is not a control-plane id (DESIGN §4). */
  workspace(environmentId: string, workId: string): string {
    return within(this.workspaces, sessionKey(environmentId, workId));
  }

  /**
   * Where retention moves what it removes (`pruneSessionFiles`), to be emptied on a worker thread
   * (`emptyTrash`). Anything here is Outpost's to delete: a removal cut short (a quit) finishes next time.
   */
  get trash(): string {
    return join(this.root, 'trash');
  }

  /**
   * Retention: remove session logs and workspaces last touched more than `days` ago, but those whose
   * sessionKey is in `keep`. Those an older Outpost named by the work id alone go by age too. Returns how many sessions.
   *
   * Each goes at once from its name — renamed into the trash, one call each, never walked here — and
   * its files with `emptyTrash`, off this thread: removing a session's node_modules takes seconds. So
   * the same work id handed out again while that runs gets a fresh workspace, never one half removed.
   */
  pruneSessionFiles(days: number, now = Date.now(), keep: ReadonlySet<string> = new Set()): number {
    const cutoff = now - days * 24 * 60 * 60 * 1000;
    const removed = new Set<string>();
    // A running item served warm has its workspace under the warm container's name, linked from its own.
    const keptThroughLink = new Set([...keep].map((key) => linkedWorkspace(join(this.workspaces, key))).filter((name): name is string => !!name));
    for (const [folder, suffix] of [[this.sessionLogs, '.log'], [this.workspaces, '']] as const) {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name);
        const key = name.endsWith(EGRESS_SUFFIX) ? name.slice(0, -EGRESS_SUFFIX.length) : name.slice(0, name.length - suffix.length);
        if (keep.has(key) || keptThroughLink.has(name) || lstatSync(path).mtimeMs >= cutoff) continue;
        mkdirSync(this.trash, { recursive: true, mode: PRIVATE_DIR_MODE });
        renameSync(path, join(this.trash, randomUUID()));
        removed.add(key);
      }
    }
    return removed.size;
  }

  /** Remove what retention moved to the trash, on a worker thread. Resolves with what could not be removed, in words. */
  emptyTrash(signal?: AbortSignal): Promise<string[]> {
    // Most checks find nothing to remove: no thread for them.
    return existsSync(this.trash) && readdirSync(this.trash).length ? emptyFolderOffThread(this.trash, signal) : Promise.resolve([]);
  }

  /**
   * A warm container's workspace given to the item it serves without moving it: behind a VM's file
   * share (Docker Desktop, OrbStack, Colima), a bind-mounted folder renamed on this side vanishes from
   * the container. The item's name is a link to the warm one's until the container is gone
   * (`settleWorkspace`). False when the item already has a workspace (handed out to us before).
   */
  linkWorkspace(environmentId: string, workId: string, warmName: string): boolean {
    const item = this.workspace(environmentId, workId);
    const warm = this.workspace(environmentId, warmName);
    try {
      symlinkSync(basename(warm), item);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  }

  /**
   * The item's workspace under its own name again, once no container has it mounted: the link made by
   * `linkWorkspace` replaced by the folder it names. Anything else at that name is left as it is.
   */
  settleWorkspace(environmentId: string, workId: string): void {
    const item = this.workspace(environmentId, workId);
    const warmName = linkedWorkspace(item);
    if (!warmName) return;
    rmSync(item, { force: true });
    renameSync(within(this.workspaces, warmName), item);
  }

  /** Stable for the life of this data folder; labels tell this install's containers from another's. */
  installId(): string {
    const file = join(this.root, 'install-id');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      const id = randomUUID();
      writeFileSync(file, id + '\n', { mode: PRIVATE_FILE_MODE });
      return id;
    }
  }
}

/** The workspace a link made by `linkWorkspace` names (a plain name beside it), or undefined. */
function linkedWorkspace(path: string): string | undefined {
  try {
    if (!lstatSync(path).isSymbolicLink()) return undefined;
    const target = readlinkSync(path);
    return /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(target) && !target.includes('..') ? target : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An id from a control plane as a file or container name: the id itself, or an error. Never mapped
 * or truncated, so two ids never share a name (the old mapping to `_` and cut at 120 characters could).
 */
export function checkedName(id: string): string {
  if (!CONTROL_PLANE_ID.test(id)) throw new Error(`refused the id ${quoteId(id)}: not an id of letters, digits, _ and -`);
  return id;
}

/**
 * What names a session's files (workspace, log, egress record, claim): its environment and its work
 * id, so that two environments sharing a data folder (the desktop app serves several) never share a
 * workspace even when their control planes hand out the same work id. Ids hold no `.`, so the name is
 * unambiguous, and one an older Outpost made from the work id alone never matches it.
 */
export function sessionKey(environmentId: string, workId: string): string {
  return `${checkedName(environmentId)}.${checkedName(workId)}`;
}

/** `child` resolved under `parent`, or an error if it would land anywhere else (the parent itself included). */
export function within(parent: string, child: string): string {
  const base = resolve(parent);
  const full = resolve(base, child);
  const rel = relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new Error(`refused the path ${quoteId(child)}: it leads outside ${base}`);
  return full;
}


/**
 * Who a process is, beyond its pid: a pid is reused, and a worker in a container gets the same pid after
 * every `docker restart` (tini is 1, node the same small number), so a pid alone would call the dead
 * instance alive and never sweep its containers. Linux gives the boot, the pid namespace, the process's
 * start time (clock ticks since boot, /proc/PID/stat field 22) and, in Docker, the container id (the
 * engine's bind mounts of /etc/hostname and friends name it in /proc/self/mountinfo). Elsewhere (macOS)
 * only the pid.
 */
export interface ProcessIdentity {
  pid: number;
  boot?: string;
  pidNamespace?: string;
  startTicks?: string;
  container?: string;
}

export function currentProcess(): ProcessIdentity {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  };
  let pidNamespace: string | undefined;
  try {
    pidNamespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // not Linux
  }
  return {
    pid: process.pid,
    boot: read('/proc/sys/kernel/random/boot_id')?.trim(),
    pidNamespace,
    startTicks: startTicksOf(process.pid),
    container: /\/containers\/([0-9a-f]{64})\//.exec(read('/proc/self/mountinfo') ?? '')?.[1],
  };
}

function startTicksOf(pid: number): string | undefined {
  try {
    // The command name (field 2) may hold spaces and parentheses: count from after its last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Is the process `recorded` still running, seen from `self`? Another boot: no. Another pid namespace
 * (a container, or the host seen from one) cannot be looked into: alive — its containers are never
 * swept on a guess — unless it is this very container's earlier life (`docker restart` gives a
 * container a new pid namespace, the same id). In this namespace: its pid runs and started when it did.
 */
export function isRunning(recorded: ProcessIdentity, self: ProcessIdentity = currentProcess()): boolean {
  if (recorded.boot && self.boot && recorded.boot !== self.boot) return false;
  if (recorded.pidNamespace && self.pidNamespace && recorded.pidNamespace !== self.pidNamespace) {
    return !(recorded.container && recorded.container === self.container);
  }
  try {
    process.kill(recorded.pid, 0);
  } catch (e) {
    // EPERM: it runs, as another user.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !recorded.startTicks || recorded.startTicks === startTicksOf(recorded.pid);
}

/** A Unix socket's path must fit sockaddr_un (108 bytes on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = 100;

/** How often a live Outpost touches its instance record, and how old a touch may be before the record is stale. */
export const INSTANCE_REFRESH_MS = 5_000;
export const INSTANCE_STALE_MS = 30_000;

/**
 * Marks this process alive in the data folder, so a later Outpost can tell a container of a live
 * sibling (leave it) from one of a process that died (sweep it). Two signs, read together:
 * - the record is touched every few seconds: fresh means alive, whatever sees it — across pid
 *   namespaces, containers, pods, and a VM's file share;
 * - where it can, the process listens on a Unix socket beside it: the kernel closes it when the
 *   process dies, however it dies, so a refused connect says "dead" at once — but only when the reader
 *   sees the folder on the same file system as the writer did, and one where sockets connect. Through
 *   a VM's file share (Docker Desktop's) or a FUSE view of the folder, a socket made on the other side
 *   refuses, live or not (docker/for-mac#483), so there a refusal says nothing.
 * A record of an older Outpost (no touches) falls back to the process's identity (isRunning).
 */
export class InstanceRecord {
  readonly id = randomUUID();
  readonly #file: string;
  readonly #socket: string | undefined;
  readonly #server: Server | undefined;
  readonly #touch: NodeJS.Timeout;

  constructor(private readonly paths: DataPaths) {
    this.#file = within(paths.instances, `${this.id}.json`);
    const socket = within(paths.instances, `${this.id}.sock`);
    if (process.platform !== 'win32' && Buffer.byteLength(socket) <= MAX_SOCKET_PATH) {
      this.#socket = socket;
      // Every connection is only a question: answered by being accepted, then closed.
      this.#server = createServer((connection) => connection.destroy());
      this.#server.on('error', () => {}); // no socket: the record's freshness still answers
      this.#server.listen(socket);
      this.#server.unref();
    }
    // The file system it sees its folder on: another Outpost seeing a different one (a FUSE view, a VM's share) cannot reach its socket.
    const record = { ...currentProcess(), socket: this.#socket !== undefined, device: deviceOf(paths.instances), refreshMs: INSTANCE_REFRESH_MS, startedAt: new Date().toISOString() };
    writeFileSync(this.#file, JSON.stringify(record), { mode: PRIVATE_FILE_MODE });
    this.#touch = setInterval(() => {
      const now = new Date();
      try {
        utimesSync(this.#file, now, now);
      } catch {
        // A full disk or a vanished folder: the record goes stale, and another Outpost may then sweep — as it should for one that cannot write.
      }
    }, INSTANCE_REFRESH_MS).unref();
  }

  dispose(): void {
    clearInterval(this.#touch);
    this.#server?.close();
    rmSync(this.#file, { force: true });
    if (this.#socket) rmSync(this.#socket, { force: true });
  }

  /** Is the Outpost process that wrote `instanceId` still running? */
  static async isAlive(paths: DataPaths, instanceId: string, self?: ProcessIdentity, now = Date.now()): Promise<boolean> {
    const file = within(paths.instances, `${checkedName(instanceId)}.json`);
    let recorded: ProcessIdentity & { socket?: boolean; device?: string; refreshMs?: number };
    let touchedAt: number;
    try {
      recorded = JSON.parse(readFileSync(file, 'utf8')) as typeof recorded;
      touchedAt = statSync(file).mtimeMs;
    } catch {
      return false;
    }
    if (typeof recorded.pid !== 'number') return false;
    if (recorded.socket === true && process.platform !== 'win32') {
      const answer = await knock(within(paths.instances, `${instanceId}.sock`));
      if (answer === 'alive') return true;
      // A refusal says "dead" only where the socket could have answered: made on the file system this
      // process sees the folder on (not through a share or a FUSE view of it), and one where sockets connect.
      const sameView = recorded.device === undefined || recorded.device === deviceOf(paths.instances);
      if (answer === 'dead' && sameView && (await socketsConnectIn(paths.instances))) return false;
    }
    if (typeof recorded.refreshMs === 'number') return now - touchedAt < INSTANCE_STALE_MS;
    return isRunning(recorded, self);
  }

  /** Drop the records (and sockets) of processes that are gone. */
  static async prune(paths: DataPaths): Promise<void> {
    for (const file of readdirSync(paths.instances).filter((f) => f.endsWith('.json'))) {
      const id = file.slice(0, -'.json'.length);
      if (await InstanceRecord.isAlive(paths, id)) continue;
      rmSync(join(paths.instances, file), { force: true });
      rmSync(join(paths.instances, `${id}.sock`), { force: true });
    }
  }
}

/** The device a folder is on, as this process sees it (a FUSE view of a folder is another device). */
function deviceOf(dir: string): string | undefined {
  try {
    return String(statSync(dir).dev);
  } catch {
    return undefined;
  }
}

const socketsConnect = new Map<string, Promise<boolean>>();

/**
 * Does a unix socket made in `dir` take a connection? Not through a VM's file share or a FUSE view
 * of the folder: the socket file is there, and every connect is refused. Asked once per folder.
 */
export function socketsConnectIn(dir: string): Promise<boolean> {
  let answer = socketsConnect.get(dir);
  if (!answer) {
    answer = probeSocket(dir);
    socketsConnect.set(dir, answer);
  }
  return answer;
}

async function probeSocket(dir: string): Promise<boolean> {
  const path = join(dir, `probe-${randomUUID().slice(0, 8)}.sock`);
  if (process.platform === 'win32' || Buffer.byteLength(path) > MAX_SOCKET_PATH) return false;
  const server = createServer((connection) => connection.destroy());
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
    return (await knock(path)) === 'alive';
  } catch {
    return false;
  } finally {
    server.close();
    rmSync(path, { force: true });
  }
}

/** Connect to an instance's socket: accepted, alive; refused (nobody listens) or gone, dead; anything else, not known. */
function knock(socket: string): Promise<'alive' | 'dead' | 'unknown'> {
  return new Promise((resolve) => {
    const connection = connect(socket);
    const done = (answer: 'alive' | 'dead' | 'unknown') => {
      clearTimeout(timer);
      connection.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done('unknown'), 2_000);
    connection.once('connect', () => done('alive'));
    connection.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'dead' : 'unknown'));
  });
}
