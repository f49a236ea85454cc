import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { searchInWorker, type SearchResult } from './search-scan.js';

const CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/**
 * Random access by line to a log that may be huge and still growing: an index of where
 * each line starts, extended from where it last stopped whenever the file has grown.
 * A view asks for a window of lines at a time, so a 1,000,000-line log never travels whole.
 */
export class LogFile {
  /** Byte offset of each complete line's start, then of the (possibly partial) last line. */
  #starts = new Float64Array(1024);
  #lines = 0;
  #indexed = 0;

  constructor(readonly path: string) {}

  /** Lines so far (a trailing partial line counts) and bytes. */
  info(): { lines: number; bytes: number } {
    const bytes = this.#refresh();
    return { lines: this.#lines + (bytes > this.#lineStart(this.#lines) ? 1 : 0), bytes };
  }

  lines(from: number, count: number): string[] {
    const { lines } = this.info();
    const end = Math.min(lines, from + count);
    if (from >= end) return [];
    const start = this.#lineStart(from);
    const stop = end <= this.#lines ? this.#lineStart(end) : this.#indexed;
    const text = this.#read(start, stop - start);
    const out = text.split('\n');
    if (out.length > end - from) out.length = end - from;
    return out.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /**
   * Line numbers of the first `limit` lines holding `query`, and how many in all; ASCII letters
   * match in either case. The scan runs in a worker thread: over a 500 MB log it would hold the event
   * loop (heartbeats, polls, the dashboard) for ~1.9 s if it ran here.
   */
  search(query: string, limit: number): Promise<SearchResult> {
    const bytes = this.#size();
    if (bytes === 0) return Promise.resolve({ matches: [], total: 0 });
    return searchInWorker({ path: this.path, bytes, query, limit });
  }

  #lineStart(line: number): number {
    return line === 0 ? 0 : this.#starts[line - 1]!;
  }

  #size(): number {
    try {
      return statSync(this.path).size;
    } catch {
      return 0;
    }
  }

  /** Index what was appended since the last look; returns the file's size. */
  #refresh(): number {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return 0;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.#indexed) this.#reset(); // replaced or truncated
      const buffer = Buffer.alloc(CHUNK);
      while (this.#indexed < size) {
        const n = readSync(fd, buffer, 0, Math.min(CHUNK, size - this.#indexed), this.#indexed);
        if (n === 0) break;
        for (let i = buffer.indexOf(NEWLINE, 0); i !== -1 && i < n; i = buffer.indexOf(NEWLINE, i + 1)) this.#push(this.#indexed + i + 1);
        this.#indexed += n;
      }
      return size;
    } finally {
      closeSync(fd);
    }
  }

  #push(offset: number): void {
    if (this.#lines === this.#starts.length) {
      const grown = new Float64Array(this.#starts.length * 2);
      grown.set(this.#starts);
      this.#starts = grown;
    }
    this.#starts[this.#lines++] = offset;
  }

  #reset(): void {
    this.#starts = new Float64Array(1024);
    this.#lines = 0;
    this.#indexed = 0;
  }

  #read(start: number, length: number): string {
    const fd = openSync(this.path, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const n = readSync(fd, buffer, 0, length, start);
      return buffer.toString('utf8', 0, n);
    } finally {
      closeSync(fd);
    }
  }
}
