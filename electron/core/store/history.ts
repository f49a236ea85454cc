import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latestByKey } from './json-lines.js';
import { PRIVATE_FILE_MODE } from './paths.js';
import { historyEntrySchema, type HistoryEntry } from '../../../shared/contract.js';
import type { ItemState } from '../../../shared/states.js';

const KEEP = 500;

/**
 * Finished items, newest first, kept across restarts: one JSON line per item, written as
 * it finishes. A line that does not parse (a crash mid-write) is skipped, not fatal.
 */
export class HistoryStore {
  readonly #file: string;
  #entries: HistoryEntry[];
  /** The file as this store last read or wrote it: while it is so, it holds nothing #entries does not. */
  #seen: string | undefined;

  constructor(root: string) {
    this.#file = join(root, 'history.jsonl');
    this.#entries = this.#read();
  }

  list(): HistoryEntry[] {
    return this.#entries;
  }

  /**
   * Kept in memory first, then the whole file is written anew beside the old one and renamed over
   * it: a full disk fails this write (the caller says so) but tears no line, and the entry is
   * written with the next one once there is room again.
   */
  add(entry: HistoryEntry): void {
    // What is on disk now, too: another Outpost on the same data folder may have added its own since.
    // Read again only when the file changed: parsing 500 lines per finished item cost a worker ~1.8 ms of CPU each (interpreted).
    const onDisk = this.#seen !== undefined && this.#seen === this.#stamp() ? [] : this.#read();
    const byId = new Map([...onDisk, ...this.#entries].map((e) => [entryKey(e), e]));
    byId.set(entryKey(entry), entry);
    this.#entries = [...byId.values()].sort((a, b) => b.endedAt - a.endedAt);
    this.#rewrite();
  }

  /** The entries on disk; none when the file is missing or unreadable (a history is worth less than starting). */
  #read(): HistoryEntry[] {
    try {
      const stamp = this.#stamp();
      const entries = parseLines(readFileSync(this.#file, 'utf8'));
      this.#seen = stamp;
      return entries;
    } catch {
      this.#seen = undefined;
      return [];
    }
  }

  /** Which file is there, and which version of it: a writer renames a new file over it (a new inode). */
  #stamp(file = this.#file): string | undefined {
    try {
      const { ino, size, mtimeMs } = statSync(file);
      return `${ino}:${size}:${mtimeMs}`;
    } catch {
      return undefined;
    }
  }

  #rewrite(): void {
    this.#entries.length = Math.min(this.#entries.length, KEEP);
    const temp = `${this.#file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, [...this.#entries].reverse().map((e) => JSON.stringify(e) + '\n').join(''), { mode: PRIVATE_FILE_MODE });
      // The new file's own stamp (a rename keeps inode, size and mtime): not whatever another writer may put there next.
      const written = this.#stamp(temp);
      renameSync(temp, this.#file);
      this.#seen = written;
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
  }
}

/** Two environments may hand out the same work id: each keeps its own entry. */
function entryKey(entry: HistoryEntry): string {
  return `${entry.environmentId}.${entry.workId}`;
}

function parseLines(text: string): HistoryEntry[] {
  return latestByKey(text, historyEntrySchema, entryKey).reverse();
}

/** What the history keeps of an item that ended. */
export function historyEntryOf(item: ItemState): HistoryEntry {
  return {
    workId: item.workId,
    environmentId: item.environmentId,
    kind: item.kind,
    subjectId: item.subjectId,
    status: item.status,
    claimedAt: item.claimedAt,
    endedAt: item.updatedAt,
    ...(item.exitCode !== undefined ? { exitCode: item.exitCode } : {}),
    ...(item.reason !== undefined ? { reason: item.reason } : {}),
    hasLog: item.logFile !== undefined,
  };
}
