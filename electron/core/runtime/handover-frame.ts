import { createHash } from 'node:crypto';
import { HANDOVER_NAMES } from './labels.js';

/**
 * How an item travels to a session's runner (worker → engine's attach → keeper → runner): one frame,
 *
 *   \nOUTPOST-HANDOVER v1 <length> <sha256-hex>\n<json>\n
 *
 * found after whatever came before it. An engine may put bytes of its own on the container's stdin
 * ahead of ours — Podman delivers the attach request's body there — so the reader skips anything up to
 * the marker, and the length and checksum tell a garbled item from a whole one. Both ends import this
 * file (the runner bundles it), so what Outpost writes is what the runner reads.
 */
export const HANDOVER_MARKER = '\nOUTPOST-HANDOVER v1 ';

/** An item is a few hundred bytes; the JSON may be up to this long. */
export const MAX_HANDOVER_BYTES = 64 * 1024;
/** What may come before the marker (an engine's stray bytes) before the reader gives up. */
export const MAX_PREFIX_BYTES = 64 * 1024;
const HEADER = /^OUTPOST-HANDOVER v1 (\d{1,7}) ([0-9a-f]{64})$/;
/** `OUTPOST-HANDOVER v1 ` + length + space + 64 hex digits, with room to spare. */
const MAX_HEADER_BYTES = 128;

export type Handover = Record<string, string>;

/** The frame of one item's variables. */
export function frameHandover(values: Handover): Buffer {
  const json = Buffer.from(JSON.stringify(values), 'utf8');
  const sha = createHash('sha256').update(json).digest('hex');
  return Buffer.concat([Buffer.from(`${HANDOVER_MARKER}${json.length} ${sha}\n`, 'utf8'), json, Buffer.from('\n')]);
}

/** A handover the reader will not take: the message says why, in words. */
export class HandoverRefused extends Error {
  override name = 'HandoverRefused';
}

/**
 * Reads one frame from a stream of chunks: push each chunk, get the item once it is whole. Throws
 * HandoverRefused on a frame that is not whole or not Outpost's, or when no marker came within
 * MAX_PREFIX_BYTES; `end()` says why a stream that closed first gave nothing.
 */
export class HandoverReader {
  #buffered = Buffer.alloc(0);
  #marker = Buffer.from(HANDOVER_MARKER, 'utf8');

  push(chunk: Buffer): Handover | undefined {
    this.#buffered = Buffer.concat([this.#buffered, chunk]);
    const at = this.#buffered.indexOf(this.#marker);
    if (at < 0) {
      if (this.#buffered.length > MAX_PREFIX_BYTES + this.#marker.length) {
        throw new HandoverRefused(`no handover came within the first ${MAX_PREFIX_BYTES / 1024} KiB: whoever writes here is not Outpost`);
      }
      return undefined;
    }
    if (at > MAX_PREFIX_BYTES) throw new HandoverRefused(`no handover came within the first ${MAX_PREFIX_BYTES / 1024} KiB: whoever writes here is not Outpost`);
    const headerStart = at + 1;
    const headerEnd = this.#buffered.indexOf(0x0a, headerStart);
    if (headerEnd < 0) {
      if (this.#buffered.length - headerStart > MAX_HEADER_BYTES) throw new HandoverRefused('the handover’s frame header is malformed');
      return undefined;
    }
    const header = HEADER.exec(this.#buffered.subarray(headerStart, headerEnd).toString('latin1'));
    if (!header) throw new HandoverRefused('the handover’s frame header is malformed');
    const length = Number(header[1]);
    if (length > MAX_HANDOVER_BYTES) throw new HandoverRefused(`the handover is too long (${length} bytes; at most ${MAX_HANDOVER_BYTES})`);
    const bodyStart = headerEnd + 1;
    if (this.#buffered.length < bodyStart + length + 1) return undefined;
    const body = this.#buffered.subarray(bodyStart, bodyStart + length);
    if (this.#buffered[bodyStart + length] !== 0x0a) throw new HandoverRefused('the handover is not as long as its frame says: it was garbled on the way');
    if (createHash('sha256').update(body).digest('hex') !== header[2]) throw new HandoverRefused('the handover’s checksum does not match its frame: it was garbled on the way');
    return parseHandover(body.toString('utf8'));
  }

  /** The stream closed: why nothing came of it. */
  end(): HandoverRefused {
    return new HandoverRefused(
      this.#buffered.length === 0
        ? 'the handover closed before an item was handed over (a warm container that was not used)'
        : 'the handover closed in the middle of a frame',
    );
  }
}

/** The item's variables: an object of strings, by the names the runner's environment path reads and no other. */
function parseHandover(json: string): Handover {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new HandoverRefused('the handover is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HandoverRefused('the handover is not a JSON object');
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.some(([k, v]) => !HANDOVER_NAMES.has(k) || typeof v !== 'string')) throw new HandoverRefused('the handover holds a name or value it may not');
  return Object.fromEntries(entries) as Handover;
}
