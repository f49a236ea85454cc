import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_FILE_MODE } from './paths.js';
import { historyEntrySchema, type HistoryEntry } from '../../shared/contract.js';
import type { ItemState } from '../../shared/states.js';

const KEEP = 500;

/**
 * Finished items, newest first, kept across restarts: one JSON line per item, appended as
 * it finishes. A line that does not parse (a crash mid-write) is skipped, not fatal.
 */
export class HistoryStore {
  readonly #file: string;
  #entries: HistoryEntry[];

  constructor(root: string) {
    this.#file = join(root, 'history.jsonl');
    this.#entries = existsSync(this.#file) ? parseLines(readFileSync(this.#file, 'utf8')) : [];
    if (this.#entries.length > KEEP) this.#rewrite();
  }

  list(): HistoryEntry[] {
    return this.#entries;
  }

  add(entry: HistoryEntry): void {
    this.#entries = [entry, ...this.#entries.filter((e) => e.workId !== entry.workId)];
    if (this.#entries.length > KEEP * 2) this.#rewrite();
    else appendFileSync(this.#file, JSON.stringify(entry) + '\n', { mode: PRIVATE_FILE_MODE });
  }

  #rewrite(): void {
    this.#entries.length = Math.min(this.#entries.length, KEEP);
    writeFileSync(this.#file, [...this.#entries].reverse().map((e) => JSON.stringify(e) + '\n').join(''), { mode: PRIVATE_FILE_MODE });
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
