import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * How much one read of an upstream may take. Bigger reads mean fewer system calls and callbacks per
 * byte than `pipe`'s 64 KiB chunks (bench/egress.ts); a stalled client holds at most one read.
 */
export const READ_SIZE = 256 * 1024;

let shared: Buffer | undefined;

/**
 * What one session's tunnels may hold in this process, all together, for clients that do not read:
 * past it every upstream of the session pauses until half of it has gone out. Each tunnel holds at
 * most about two reads of its own as well; without a bound for the session, 512 tunnels that never
 * read would pin a quarter of a GiB in the worker.
 */
export const SESSION_HELD_BYTES = 8 * 1024 * 1024;

/** The bytes a session's tunnels have handed to their clients and not yet seen go out, and the upstreams to pause past the bound. */
export class HeldBytes {
  #held = 0;
  #paused = false;
  readonly #upstreams = new Set<Socket>();

  constructor(readonly limit = SESSION_HELD_BYTES) {}

  get held(): number {
    return this.#held;
  }

  get paused(): boolean {
    return this.#paused;
  }

  track(upstream: Socket): void {
    this.#upstreams.add(upstream);
    upstream.once('close', () => this.#upstreams.delete(upstream));
    if (this.#paused) upstream.pause();
  }

  add(n: number): void {
    this.#held += n;
    if (this.#held <= this.limit || this.#paused) return;
    this.#paused = true;
    for (const upstream of this.#upstreams) upstream.pause();
  }

  release(n: number): void {
    this.#held -= n;
    if (!this.#paused || this.#held > this.limit / 2) return;
    this.#paused = false;
    for (const upstream of this.#upstreams) upstream.resume();
  }
}

/**
 * The download side of a tunnel: the upstream socket reads into one buffer shared by every tunnel
 * (net.connect's `onread`; each read is copied out in its callback, before any other socket's read
 * can land in it), and each read goes to the client as one write. Reads that come before the client
 * is attached (a server that speaks first) are held, with the socket paused, so nothing is lost.
 */
export class TunnelReads {
  readonly onread = { buffer: (shared ??= Buffer.allocUnsafe(READ_SIZE)), callback: (n: number, buf: Buffer) => this.#read(n, buf) };
  #upstream: Socket | undefined;
  #client: Duplex | undefined;
  readonly #held: Buffer[] = [];
  readonly #session: HeldBytes | undefined;
  /** What this tunnel counts in the session's bound now: given back when written out, or all at once when the client goes. */
  #counted = 0;

  constructor(session?: HeldBytes) {
    this.#session = session;
  }

  /** Deliver the upstream's reads to the client, what was held first, and end the client when the upstream ends. */
  attach(upstream: Socket, client: Duplex): void {
    this.#upstream = upstream;
    this.#client = client;
    this.#session?.track(upstream);
    client.once('close', () => {
      this.#session?.release(this.#counted);
      this.#counted = 0;
    });
    for (const chunk of this.#held.splice(0)) this.#write(chunk);
    upstream.once('end', () => client.end());
    if (!this.#session?.paused) upstream.resume();
  }

  #write(chunk: Buffer): void {
    const session = this.#session;
    if (!session) return void this.#client!.write(chunk);
    this.#counted += chunk.length;
    session.add(chunk.length);
    this.#client!.write(chunk, () => {
      // After the client closed, everything it held was given back at once.
      if (this.#counted < chunk.length) return;
      this.#counted -= chunk.length;
      session.release(chunk.length);
    });
  }

  /** false pauses the upstream (net's onread contract) until the client drains. */
  #read(n: number, buf: Buffer): boolean {
    const chunk = Buffer.from(buf.subarray(0, n));
    if (!this.#client) {
      this.#held.push(chunk);
      return false;
    }
    // Up to one more read may wait in the client's queue: pausing whenever write() asks (above its 16 KiB
    // mark, so nearly every read) would stop the upstream between every two reads.
    this.#write(chunk);
    if (this.#session?.paused) return false;
    if (this.#client.writableLength <= READ_SIZE) return true;
    this.#client.once('drain', () => {
      if (!this.#session?.paused) this.#upstream?.resume();
    });
    return false;
  }
}
