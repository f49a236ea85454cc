import type { Writable } from 'node:stream';
import { redact } from '../secrets/secret.js';

/** A line longer than this (a binary flood with no newline) is written in pieces. */
const MAX_PENDING_BYTES = 64 * 1024;

/**
 * What a session prints, on its way to the session log: whole lines, each through the one redaction
 * filter, so a session that echoes its own sessions token (or any key Outpost holds) leaves
 * `[redacted]` on disk. Line-buffered per stream because a token can arrive split across chunks.
 */
export class RedactingLines {
  #pending: Buffer = Buffer.alloc(0);

  constructor(private readonly sink: { write(text: string): unknown }) {}

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

/** A session log's cap unless the profile sets one (logLimitMb). */
export const DEFAULT_SESSION_LOG_LIMIT_BYTES = 100 * 2 ** 20;

/**
 * The session log's size cap (a flooding session must not fill the disk): whole lines are written until the next would pass
 * `limitBytes`; then one line says so and the rest of the session's output is dropped, so a
 * session that floods costs neither the disk nor the worker's memory past the cap.
 */
export class CappedSink {
  #written = 0;
  #atLineStart = true;
  #full = false;

  constructor(
    private readonly sink: Pick<Writable, 'write'>,
    private readonly limitBytes: number,
  ) {}

  get full(): boolean {
    return this.#full;
  }

  write(text: string): void {
    if (this.#full) return;
    let data = Buffer.from(text, 'utf8');
    const room = this.limitBytes - this.#written;
    if (data.length > room) {
      // Keep whole lines of what fits; a line cut in two would end in half a UTF-8 character.
      data = data.subarray(0, data.lastIndexOf(0x0a, room - 1) + 1);
      this.#full = true;
    }
    if (data.length) {
      this.sink.write(data);
      this.#written += data.length;
      this.#atLineStart = data[data.length - 1] === 0x0a;
    }
    if (this.#full) {
      const mib = Number((this.limitBytes / 2 ** 20).toFixed(2));
      this.sink.write(`${this.#atLineStart ? '' : '\n'}[outpost] log truncated at ${mib} MiB: the session printed more; the rest is not kept\n`);
    }
  }
}
