import { closeSync, openSync, readSync } from 'node:fs';
import { runOnThread } from '../base/thread.js';

// 64 KiB reads: each one's text is small enough for V8's young generation, where it dies cheaply. At 1 MiB
// each went to the large-object space: ~65 MiB more RSS during a 1,000,000-line search, and more CPU.
const CHUNK = 1 << 16;

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
 * The scan behind LogFile.search, over the file's first `bytes` bytes: ASCII letters match in either
 * case; a line with two hits counts once. It numbers lines by counting newlines itself rather than
 * asking LogFile's index, so it can run in a worker thread (search-worker.ts) with nothing shared.
 *
 * Every pass over the bytes is native: the worker runs with no optimising compiler (cli/worker-v8.ts),
 * and V8 flags are process-wide, so this thread inherits them; a JavaScript loop over each byte ran
 * ~10× slower interpreted (1.2 s, not 0.1 s, to lower-case a 1,000,000-line log). Each chunk is read as
 * latin1, one character per byte, so string offsets are byte offsets and a UTF-8 query matches its
 * bytes; a regular expression (compiled to machine code whatever the flags) finds the query, and
 * String#indexOf counts the newlines.
 */
export function scanForLines(path: string, bytes: number, query: string, limit: number, chunkBytes = CHUNK): SearchResult {
  const { pattern, length } = bytePattern(query);
  const matches: number[] = [];
  let total = 0;
  /** The line a hit was last counted on: a line with two hits counts once. */
  let lastHitLine = -1;
  /** The line number at `mark` in `text`. */
  let line = 0;
  /** How many bytes at the buffer's start are carried over from the previous read. */
  let carried = 0;
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, bytes) + Math.max(length - 1, 0));
  const fd = openSync(path, 'r');
  try {
    for (let at = 0; at < bytes; ) {
      const n = readSync(fd, buffer, carried, Math.min(buffer.length - carried, bytes - at), at);
      if (n === 0) break;
      at += n;
      // The previous read's last (query length − 1) bytes go first, so that a hit straddling two reads
      // is found; none fits in them whole, so none is found twice. `line` is the line at their start.
      const text = buffer.toString('latin1', 0, carried + n);
      let mark = 0;
      for (let from = 0; from < text.length; ) {
        pattern.lastIndex = from;
        if (!pattern.test(text)) break;
        const hit = pattern.lastIndex - length;
        line += countNewlines(text, mark, hit);
        mark = hit;
        if (line !== lastHitLine) {
          lastHitLine = line;
          total++;
          if (matches.length < limit) matches.push(line);
        }
        // The rest of this line matters no more.
        const end = text.indexOf('\n', hit);
        if (end === -1) break;
        line++;
        mark = from = end + 1;
      }
      const keep = Math.max(mark, text.length - Math.max(length - 1, 0));
      line += countNewlines(text, mark, keep);
      carried = buffer.copy(buffer, 0, keep, text.length);
    }
  } finally {
    closeSync(fd);
  }
  return { matches, total };
}

/**
 * A pattern that matches the query's UTF-8 bytes read as latin1, ASCII letters in either case, and its
 * length in characters (= bytes). Not the `i` flag: it would also fold latin1 letters (é/É), which here
 * are pieces of UTF-8 sequences.
 */
function bytePattern(query: string): { pattern: RegExp; length: number } {
  const utf8 = Buffer.from(query);
  let source = '';
  for (const b of utf8) {
    const lower = b | 0x20;
    source += lower >= 0x61 && lower <= 0x7a ? `[${String.fromCharCode(b & ~0x20, lower)}]` : `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return { pattern: new RegExp(source, 'g'), length: utf8.length };
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
