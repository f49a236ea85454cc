import type { Writable } from 'node:stream';
import { redact } from '../secret.js';

/** A line longer than this (a binary flood with no newline) is written in pieces. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * What a session prints, on its way to the session log: whole lines, each through the one redaction
 * filter, so a session that echoes its own sessions token (or any key Outpost holds) leaves
 * `[redacted]` on disk. Line-buffered per stream because a token can arrive split across chunks.
 */
export class RedactingLines {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly sink: Pick<Writable, 'write'>) {}

  write(chunk: Buffer): void {
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const cut = data.lastIndexOf(0x0a) + 1;
    // A newline byte never sits inside a UTF-8 sequence: what comes before it decodes whole.
    const complete = cut > 0 ? cut : data.length > MAX_PENDING_BYTES ? data.length : 0;
    if (complete > 0) this.sink.write(redact(data.subarray(0, complete).toString('utf8')));
    this.#pending = Buffer.from(data.subarray(complete));
  }

  /** The last line, without its newline, once the stream ended. */
  flush(): void {
    if (this.#pending.length) this.sink.write(redact(this.#pending.toString('utf8')));
    this.#pending = Buffer.alloc(0);
  }
}
