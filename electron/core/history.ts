import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from './paths.js';
import { historyEntrySchema, type HistoryEntry } from '../../shared/contract.js';
import type { ItemState } from '../../shared/states.js';

const KEEP = 500;

/**
 * Finished items, newest first, kept across restarts: one JSON line per item, written as
 * it finishes. A line that does not parse (a crash mid-write) is skipped, not fatal.
 */
export class HistoryStore {
  readonly #file: string;
  #entries: HistoryEntry[];

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
    const byId = new Map([...this.#read(), ...this.#entries].map((e) => [e.workId, e]));
    byId.set(entry.workId, entry);
    this.#entries = [...byId.values()].sort((a, b) => b.endedAt - a.endedAt);
    this.#rewrite();
  }

  /** The entries on disk; none when the file is missing or unreadable (a history is worth less than starting). */
  #read(): HistoryEntry[] {
    try {
      return parseLines(readFileSync(this.#file, 'utf8'));
    } catch {
      return [];
    }
  }

  #rewrite(): void {
    this.#entries.length = Math.min(this.#entries.length, KEEP);
    const temp = `${this.#file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, [...this.#entries].reverse().map((e) => JSON.stringify(e) + '\n').join(''), { mode: PRIVATE_FILE_MODE });
      renameSync(temp, this.#file);
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
  }
}

function parseLines(text: string): HistoryEntry[] {
  const byId = new Map<string, HistoryEntry>();
  for (const line of text.split('\n')) {
    try {
      const parsed = historyEntrySchema.safeParse(JSON.parse(line));
      if (parsed.success) byId.set(parsed.data.workId, parsed.data);
    } catch {
      // a torn last line
    }
  }
  return [...byId.values()].reverse();
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
