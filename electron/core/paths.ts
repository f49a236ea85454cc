import { randomUUID } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CONTROL_PLANE_ID, quoteId } from '../../shared/ids.js';

const EGRESS_SUFFIX = '.egress.jsonl';

/** Folders of the data folder: the owner's alone (DESIGN §4). */
export const PRIVATE_DIR_MODE = 0o700;
/** Files of the data folder: the owner's alone. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Where Outpost keeps its files: one folder per install (the desktop app's user-data folder, or --data-dir).
 * The folder and every folder in it are 0700, its files 0600: a session's workspace lives here, and no
 * other local user may reach what a session left (DESIGN §4). A folder an older Outpost made with the
 * umask's mode is tightened when opened.
 */
export class DataPaths {
  constructor(readonly root: string) {
    for (const dir of [this.root, join(this.root, 'logs'), this.sessionLogs, this.workspaces, this.leases, this.instances, this.egress]) {
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
  /** Each running session's egress proxy socket, in a folder of its own (egress/session-egress.ts owns them). */
  get egress(): string {
    return join(this.root, 'egress');
  }

  /** Throws on an id that is not a control-plane id (DESIGN §4). */
  sessionLog(workId: string): string {
    return within(this.sessionLogs, `${checkedName(workId)}.log`);
  }
  /** A session's egress connections, one JSON line each (egress/session-egress.ts). Throws on an id that is not a control-plane id. */
  sessionEgress(workId: string): string {
    return within(this.sessionLogs, `${checkedName(workId)}${EGRESS_SUFFIX}`);
  }
  /** Throws on an id that is not a control-plane id (DESIGN §4). */
  workspace(workId: string): string {
    return within(this.workspaces, checkedName(workId));
  }

  /** Retention: remove session logs and workspaces last touched more than `days` ago, but those of `keep`. Returns how many sessions. */
  pruneSessionFiles(days: number, now = Date.now(), keep: ReadonlySet<string> = new Set()): number {
    const cutoff = now - days * 24 * 60 * 60 * 1000;
    const removed = new Set<string>();
    for (const [folder, suffix] of [[this.sessionLogs, '.log'], [this.workspaces, '']] as const) {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name);
        const id = name.endsWith(EGRESS_SUFFIX) ? name.slice(0, -EGRESS_SUFFIX.length) : name.slice(0, name.length - suffix.length);
        if (keep.has(id) || statSync(path).mtimeMs >= cutoff) continue;
        rmSync(path, { recursive: true, force: true });
        removed.add(id);
      }
    }
    return removed.size;
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

/**
 * An id from a control plane as a file or container name: the id itself, or an error. Never mapped
 * or truncated, so two ids never share a name (the old mapping to `_` and cut at 120 characters could).
 */
export function checkedName(id: string): string {
  if (!CONTROL_PLANE_ID.test(id)) throw new Error(`refused the id ${quoteId(id)}: not an id of letters, digits, _ and -`);
  return id;
}

/** `child` resolved under `parent`, or an error if it would land anywhere else (the parent itself included). */
export function within(parent: string, child: string): string {
  const base = resolve(parent);
  const full = resolve(base, child);
  const rel = relative(base, full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new Error(`refused the path ${quoteId(child)}: it leads outside ${base}`);
  return full;
}

export function defaultDataDir(): string {
  if (process.env['OUTPOST_DATA_DIR']) return process.env['OUTPOST_DATA_DIR'];
  const xdg = process.env['XDG_DATA_HOME'] ?? join(homedir(), '.local', 'share');
  return join(xdg, 'outpost');
}

/**
 * Marks this process alive in the data folder, so a later Outpost can tell
 * a container of a live sibling (leave it) from one of a process that died (sweep it).
 */
export class InstanceRecord {
  readonly id = randomUUID();
  readonly #file: string;

  constructor(private readonly paths: DataPaths) {
    this.#file = within(paths.instances, `${this.id}.json`);
    writeFileSync(this.#file, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }), { mode: PRIVATE_FILE_MODE });
  }

  dispose(): void {
    rmSync(this.#file, { force: true });
  }

  /** Is the Outpost process that wrote `instanceId` still running? */
  static isAlive(paths: DataPaths, instanceId: string): boolean {
    try {
      const { pid } = JSON.parse(readFileSync(within(paths.instances, `${checkedName(instanceId)}.json`), 'utf8')) as { pid: number };
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Drop the records of processes that are gone. */
  static prune(paths: DataPaths): void {
    for (const file of readdirSync(paths.instances)) {
      const id = file.replace(/\.json$/, '');
      if (!InstanceRecord.isAlive(paths, id)) rmSync(join(paths.instances, file), { force: true });
    }
  }
}
