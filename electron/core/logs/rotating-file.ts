import { close, fstat, open, renameSync, rmSync, write } from 'node:fs';
import { Writable } from 'node:stream';

export interface RotatingFileOptions {
  /** Start a new file when the next write would take this one past it. */
  maxBytes?: number;
  /** Old files kept beside it: path.1 (the newest) … path.keep. */
  keep?: number;
  mode?: number;
}

/**
 * An append-only log file that rotates at a size: path → path.1 → … → path.keep, the oldest
 * dropped, so the headless worker's outpost.log cannot grow without bound; the desktop app's
 * electron-log rotates its own. A write stream, so it drops in where fs.createWriteStream was.
 */
export class RotatingFile extends Writable {
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #mode: number;
  #fd = -1;
  #size = 0;

  constructor(
    readonly path: string,
    { maxBytes = 10 * 2 ** 20, keep = 3, mode = 0o600 }: RotatingFileOptions = {},
  ) {
    super();
    this.#maxBytes = maxBytes;
    this.#keep = keep;
    this.#mode = mode;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.#open(callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const append = () => this.#append(chunk, 0, callback);
    if (this.#size === 0 || this.#size + chunk.length <= this.#maxBytes) return append();
    close(this.#fd, (error) => {
      this.#fd = -1;
      if (error) return callback(error);
      try {
        this.#shift();
      } catch (e) {
        return callback(e as Error);
      }
      this.#open((e) => (e ? callback(e) : append()));
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.#fd === -1) return callback(error);
    close(this.#fd, (closeError) => callback(error ?? closeError));
    this.#fd = -1;
  }

  #open(callback: (error?: Error | null) => void): void {
    open(this.path, 'a', this.#mode, (error, fd) => {
      if (error) return callback(error);
      this.#fd = fd;
      fstat(fd, (statError, stats) => {
        if (statError) return callback(statError);
        this.#size = stats.size;
        callback();
      });
    });
  }

  #append(chunk: Buffer, from: number, callback: (error?: Error | null) => void): void {
    write(this.#fd, chunk, from, chunk.length - from, null, (error, written) => {
      if (error) return callback(error);
      this.#size += written;
      if (from + written < chunk.length) return this.#append(chunk, from + written, callback);
      callback();
    });
  }

  /** path.(keep-1) → path.keep, …, path → path.1; the oldest is overwritten. */
  #shift(): void {
    if (this.#keep < 1) return rmSync(this.path, { force: true });
    for (let n = this.#keep - 1; n >= 1; n--) renameIfThere(`${this.path}.${n}`, `${this.path}.${n + 1}`);
    renameSync(this.path, `${this.path}.1`);
  }
}

function renameIfThere(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
