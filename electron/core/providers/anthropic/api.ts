import Anthropic from '@anthropic-ai/sdk';
import { isStatus } from '@anthropic-ai/sdk/lib/environments/index';
import { z } from 'zod';
import { controlPlaneId } from '../../../../shared/ids.js';
import type { Logger } from '../../logs/log.js';
import { sleep } from '../../base/timing.js';
import type { WorkItem } from '../control-plane.js';
import { readCapped } from '../capped-body.js';
import { globalFetch } from '../http.js';

/**
 * A bounded wait per request, headers and body (see boundedFetch): a control plane that never
 * answers must not hold a claim, an ack, a stop or a view for the SDK's default 10 minutes.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

/** Retries of one call (Outpost's own, not the SDK's: each is logged, and its wait capped). */
export const MAX_RETRIES = 2;

/**
 * The longest a Retry-After may make us wait (DESIGN §4: retries bounded). The SDK honours any
 * value up to 2^31 ms — a 429 with `Retry-After: 3600` would leave the worker silent for an hour.
 * OUTPOST_RETRY_AFTER_CAP_SECONDS shortens it (the tests do, rather than wait a minute).
 */
export function retryAfterCapMs(): number {
  const seconds = Number(process.env['OUTPOST_RETRY_AFTER_CAP_SECONDS']);
  return Number.isFinite(seconds) && seconds > 0 && seconds <= 60 ? seconds * 1000 : 60_000;
}

/**
 * The SDK arms its `timeout` around the fetch call only, so a server that sends its headers and
 * then one byte every 2 s (slow-loris) holds the body read for as long as it likes. Reading the
 * whole body inside the fetch puts it under the same timer, and under the caller's signal.
 * The work endpoints answer small JSON documents; nothing on this client streams.
 */
const MAX_BODY_BYTES = 1 << 20;
export const boundedFetch = (fetchImpl: typeof fetch = globalFetch): typeof fetch => async (input, init) => {
  const res = await fetchImpl(input, init);
  // …and up to a size: read whole, a 50 MB poll body would grow the worker's memory by hundreds of MiB.
  const body = await readCapped(res, MAX_BODY_BYTES);
  return new Response(res.status === 204 || res.status === 304 ? null : new Uint8Array(body), { status: res.status, statusText: res.statusText, headers: res.headers });
};

/** What a retry may wait for: a connection that failed or timed out, 408, 429 and 5xx (as the SDK's own rule, 409 aside). */
function retryable(e: unknown): boolean {
  if (e instanceof Anthropic.APIConnectionError) return true;
  if (!(e instanceof Anthropic.APIError) || e.status === undefined) return false;
  return e.status === 408 || e.status === 429 || e.status >= 500;
}

/** The server's Retry-After (retry-after-ms first, as the SDK reads it), in ms, or null. */
function retryAfterMs(e: unknown): number | null {
  const headers = e instanceof Anthropic.APIError ? e.headers : undefined;
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return null;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

export interface CallOptions {
  /** Aborts the call and any wait between its attempts (the worker's "stop now", a lease that ended). */
  signal: AbortSignal;
  logger: Logger;
  /** Retries after the first attempt (MAX_RETRIES by default). */
  retries?: number;
}

/**
 * One control-plane call with Outpost's retries: the SDK's backoff (0.5 s doubling, up to 8 s,
 * jittered) unless the server asks for a wait, which is honoured up to retryAfterCapMs() — each
 * retry said in the log with what the server asked. `what` names the call in that line.
 */
export async function withRetries<T>(what: string, call: (signal: AbortSignal) => Promise<T>, opts: CallOptions): Promise<T> {
  const retries = opts.retries ?? MAX_RETRIES;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(opts.signal);
    } catch (e) {
      if (opts.signal.aborted || attempt >= retries || !retryable(e)) throw e;
      const asked = retryAfterMs(e);
      const cap = retryAfterCapMs();
      const wait = asked ?? Math.min(500 * 2 ** attempt, 8_000) * (1 - Math.random() * 0.25);
      const waitMs = Math.round(Math.min(wait, cap));
      opts.logger.warn(`${what} failed; retrying in ${formatSeconds(waitMs)} s`, {
        error: describeApiError(e),
        attempt: attempt + 1,
        ...(asked !== null ? { retry_after_seconds: Math.round(asked / 1000), ...(asked > cap ? { capped: `${cap / 1000} s` } : {}) } : {}),
      });
      await sleep(waitMs, opts.signal);
      if (opts.signal.aborted) throw e;
    }
  }
}

function formatSeconds(ms: number): string {
  return ms >= 10_000 || ms % 1000 === 0 ? String(Math.round(ms / 1000)) : (ms / 1000).toFixed(1);
}

// Boundary check of what the control plane sends; the SDK types it but does not validate it.
// Every id will name a folder, a label or a container: each must be a control-plane id (DESIGN §4).
// The type is any short word: one this worker does not run is stopped with a reason, not taken for garbage.
export const workSchema = z.object({
  id: controlPlaneId,
  environment_id: controlPlaneId,
  data: z.object({ type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/), id: controlPlaneId }),
  secret: z.string().nullish(),
});

const heartbeatSchema = z.object({
  last_heartbeat: z.string(),
  lease_extended: z.boolean(),
  state: z.string(),
  ttl_seconds: z.number(),
});

export interface HeartbeatReply {
  lastHeartbeat: string;
  leaseExtended: boolean;
  state: string;
  ttlSeconds: number;
}

/** The calls that speak for one item: its heartbeat and its stop, with whatever credential the client carries. */
export class ItemChannel {
  constructor(
    private readonly client: Anthropic,
    private readonly work: Pick<WorkItem, 'id' | 'environmentId'>,
    private readonly logger: Logger,
  ) {}

  async heartbeat(expectedLastHeartbeat: string, signal: AbortSignal): Promise<HeartbeatReply> {
    const raw: unknown = await this.client.beta.environments.work.heartbeat(
      this.work.id,
      { environment_id: this.work.environmentId, expected_last_heartbeat: expectedLastHeartbeat },
      { signal, maxRetries: 0 },
    );
    const reply = heartbeatSchema.parse(raw);
    return { lastHeartbeat: reply.last_heartbeat, leaseExtended: reply.lease_extended, state: reply.state, ttlSeconds: reply.ttl_seconds };
  }

  /** Force-stop the item; 409 means it is already stopped, which is what we wanted. */
  async forceStop(signal: AbortSignal): Promise<void> {
    try {
      await withRetries(
        'stopping the work item',
        (s) => this.client.beta.environments.work.stop(this.work.id, { environment_id: this.work.environmentId, force: true }, { signal: s }),
        { signal, logger: this.logger },
      );
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
    }
  }
}

/** Words for an API failure: status, the API's error type and message. Never includes request headers. */
export function describeApiError(e: unknown): string {
  if (e instanceof Anthropic.APIError) {
    const body = e.error as { error?: { type?: string; message?: string } } | undefined;
    const detail = body?.error?.message ?? e.message;
    const type = body?.error?.type;
    return e.status ? `${e.status}${type ? ` ${type}` : ''}: ${detail}` : detail;
  }
  return e instanceof Error ? e.message : String(e);
}
