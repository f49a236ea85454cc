import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, rmSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Outpost keeps its files: one folder per install (the desktop app's user-data folder, or --data-dir). */
export class DataPaths {
  constructor(readonly root: string) {
    for (const dir of [this.sessionLogs, this.workspaces, this.leases, this.instances]) mkdirSync(dir, { recursive: true });
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

  sessionLog(workId: string): string {
    return join(this.sessionLogs, `${safeName(workId)}.log`);
  }
  workspace(workId: string): string {
    return join(this.workspaces, safeName(workId));
  }

  /** Retention: remove session logs and workspaces last touched more than `days` ago, but those of `keep`. Returns how many sessions. */
  pruneSessionFiles(days: number, now = Date.now(), keep: ReadonlySet<string> = new Set()): number {
    const kept = new Set([...keep].map(safeName));
    const cutoff = now - days * 24 * 60 * 60 * 1000;
    const removed = new Set<string>();
    for (const [folder, suffix] of [[this.sessionLogs, '.log'], [this.workspaces, '']] as const) {
      for (const name of readdirSync(folder)) {
        const path = join(folder, name);
        const id = name.slice(0, name.length - suffix.length);
        if (kept.has(id) || statSync(path).mtimeMs >= cutoff) continue;
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
      writeFileSync(file, id + '\n');
      return id;
    }
  }
}

/** Work ids come from the network; keep them to characters safe in a file or container name. */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120);
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
    this.#file = join(paths.instances, `${this.id}.json`);
    writeFileSync(this.#file, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
  }

  dispose(): void {
    rmSync(this.#file, { force: true });
  }

  /** Is the Outpost process that wrote `instanceId` still running? */
  static isAlive(paths: DataPaths, instanceId: string): boolean {
    try {
      const { pid } = JSON.parse(readFileSync(join(paths.instances, `${safeName(instanceId)}.json`), 'utf8')) as { pid: number };
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
