import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * How much one read of an upstream may take. Bigger reads mean fewer system calls and callbacks per
 * byte than `pipe`'s 64 KiB chunks (bench/egress.ts); a stalled client holds at most one read.
 */
export const READ_SIZE = 256 * 1024;

let shared: Buffer | undefined;

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

  /** Deliver the upstream's reads to the client, what was held first, and end the client when the upstream ends. */
  attach(upstream: Socket, client: Duplex): void {
    this.#upstream = upstream;
    this.#client = client;
    for (const chunk of this.#held.splice(0)) client.write(chunk);
    upstream.once('end', () => client.end());
    upstream.resume();
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
    this.#client.write(chunk);
    if (this.#client.writableLength <= READ_SIZE) return true;
    this.#client.once('drain', () => this.#upstream?.resume());
    return false;
  }
}
