import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

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
   * match in either case. Runs over bytes (no per-line strings) and finds each hit's line in the index.
   */
  search(query: string, limit: number): { matches: number[]; total: number } {
    const bytes = this.#refresh();
    const needle = lowerAscii(Buffer.from(query));
    const matches: number[] = [];
    let total = 0;
    const fd = openSync(this.path, 'r');
    try {
      let carry = Buffer.alloc(0);
      for (let at = 0; at < bytes; ) {
        const chunk = Buffer.alloc(Math.min(CHUNK, bytes - at));
        const n = readSync(fd, chunk, 0, chunk.length, at);
        if (n === 0) break;
        const start = at - carry.length;
        at += n;
        const text = lowerAscii(Buffer.concat([carry, chunk.subarray(0, n)]));
        // Whole lines only: a hit never straddles two reads.
        const cut = at < bytes ? text.lastIndexOf(NEWLINE) + 1 : text.length;
        carry = Buffer.from(text.subarray(cut));
        for (let hit = text.indexOf(needle); hit !== -1 && hit < cut; ) {
          const line = this.#lineAt(start + hit);
          total++;
          if (matches.length < limit) matches.push(line);
          const next = line + 1 <= this.#lines ? this.#lineStart(line + 1) - start : cut;
          hit = next < cut ? text.indexOf(needle, next) : -1;
        }
      }
    } finally {
      closeSync(fd);
    }
    return { matches, total };
  }

  /** The line holding byte `offset`: how many line starts after the first lie at or before it. */
  #lineAt(offset: number): number {
    let low = 0;
    let high = this.#lines;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#starts[mid]! <= offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #lineStart(line: number): number {
    return line === 0 ? 0 : this.#starts[line - 1]!;
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

function lowerAscii(buffer: Buffer): Buffer {
  for (let i = 0; i < buffer.length; i++) {
    const b = buffer[i]!;
    if (b >= 0x41 && b <= 0x5a) buffer[i] = b | 0x20;
  }
  return buffer;
}
