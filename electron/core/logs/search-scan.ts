import { closeSync, openSync, readSync } from 'node:fs';
import { runOnThread } from '../base/thread.js';

const CHUNK = 1 << 20;
const NEWLINE = 0x0a;

export interface SearchResult {
  /** Line numbers (from 0) of the first `limit` lines holding the query. */
  matches: number[];
  /** How many lines hold it in all. */
  total: number;
}

export interface SearchRequest {
  path: string;
  /** Scan this far: the size the caller saw, so a log still growing gives a stable answer. */
  bytes: number;
  query: string;
  limit: number;
}

/** Run scanForLines in a worker thread of its own (search-worker.ts); the calling thread stays free. */
export function searchInWorker(request: SearchRequest): Promise<SearchResult> {
  return runOnThread(new URL('./search-worker.js', import.meta.url), request, 'the log search');
}

/**
 * The byte scan behind LogFile.search, over the file's first `bytes` bytes: ASCII letters match in
 * either case; a line with two hits counts once. It numbers lines by counting newlines itself rather
 * than asking LogFile's index, so it can run in a worker thread (search-worker.ts) with nothing shared.
 */
export function scanForLines(path: string, bytes: number, query: string, limit: number): SearchResult {
  const needle = lowerAscii(Buffer.from(query));
  const matches: number[] = [];
  let total = 0;
  const fd = openSync(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    /** The line number at the start of `text` (which always starts a line). */
    let line = 0;
    for (let at = 0; at < bytes; ) {
      const chunk = Buffer.alloc(Math.min(CHUNK, bytes - at));
      const n = readSync(fd, chunk, 0, chunk.length, at);
      if (n === 0) break;
      at += n;
      const text = lowerAscii(Buffer.concat([carry, chunk.subarray(0, n)]));
      // Whole lines only: a hit never straddles two reads.
      const cut = at < bytes ? text.lastIndexOf(NEWLINE) + 1 : text.length;
      carry = Buffer.from(text.subarray(cut));
      let cursor = 0;
      for (let hit = text.indexOf(needle); hit !== -1 && hit < cut; ) {
        line += countNewlines(text, cursor, hit);
        total++;
        if (matches.length < limit) matches.push(line);
        const end = text.indexOf(NEWLINE, hit);
        if (end === -1 || end + 1 >= cut) {
          cursor = end === -1 ? cut : end;
          break;
        }
        cursor = end + 1;
        line++;
        hit = text.indexOf(needle, cursor);
      }
      line += countNewlines(text, cursor, cut);
    }
  } finally {
    closeSync(fd);
  }
  return { matches, total };
}

function countNewlines(buffer: Buffer, from: number, to: number): number {
  let count = 0;
  for (let i = buffer.indexOf(NEWLINE, from); i !== -1 && i < to; i = buffer.indexOf(NEWLINE, i + 1)) count++;
  return count;
}

function lowerAscii(buffer: Buffer): Buffer {
  for (let i = 0; i < buffer.length; i++) {
    const b = buffer[i]!;
    if (b >= 0x41 && b <= 0x5a) buffer[i] = b | 0x20;
  }
  return buffer;
}
