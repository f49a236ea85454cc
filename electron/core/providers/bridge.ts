import { globalFetch } from './http.js';
import { backoff } from '@anthropic-ai/sdk/lib/environments/index';
import { z } from 'zod';
import { controlPlaneId, isControlPlaneId, quoteId } from '../../../shared/ids.js';
import { readCapped, ResponseTooLargeError } from './capped-body.js';
import type { Logger } from '../logs/log.js';
import type { Secret } from '../secrets/secret.js';
import { deadline, sleep } from '../base/timing.js';
import { BridgeResultStore, type BridgeReport } from './bridge-results.js';
import { connectionCause, MalformedWorkError, type ClaimRecord, type ContainerWork, type ControlPlane, type ItemLifecycle, type ItemOutcome, type WorkItem } from './control-plane.js';

/** An answer from the Bridge API that is not a success: the call, its status and its `detail`. */
export class BridgeApiError extends Error {
  override name = 'BridgeApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
    /** Which call it answered ("environment heartbeat", "ack" …): a 401 on the heartbeat is not a refusal to hand out work. */
    readonly call = '',
    /** Retry-After, capped at RETRY_AFTER_CAP_MS (absent when the server sent none). */
    readonly retryAfterMs?: number,
  ) {
    super(call ? `the ${call} answered ${status}: ${detail}` : `${status}: ${detail}`);
  }
}

/** Each Bridge request, headers and body, is cut off after this long unless the options say otherwise. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** A server's Retry-After is honoured up to this; beyond it, Outpost's own backoff decides (DESIGN §4). */
export const RETRY_AFTER_CAP_MS = 60_000;

const pollSchema = z.object({
  work: z
    .object({
      // It will name a folder, a label and a container (DESIGN §4).
      work_id: controlPlaneId,
      type: z.string().min(1),
      payload: z.record(z.string(), z.unknown()).default({}),
    })
    .nullable(),
  poll_interval_ms: z.number().int().nonnegative().max(600_000),
});
const heartbeatSchema = z.object({ next_heartbeat_ms: z.number().int().positive(), status: z.string().optional() });
const environmentSchema = z.object({ environment_id: z.string(), provider: z.string(), status: z.string() });
const providersSchema = z.object({
  providers: z.array(z.object({ provider_id: z.string(), name: z.string(), region: z.string(), available: z.boolean() })),
});

export interface BridgeProviderOptions {
  baseURL: string;
  environmentId: string;
  token: Secret;
  logger: Logger;
  /** The command that runs the script, e.g. ['python3'] (the default) or ['sh']. */
  interpreter?: string[];
  /** A script that runs longer is killed and its item stopped with reason "timeout exceeded". */
  timeoutMs?: number;
  /** stdout and stderr are each capped at this many bytes in the result (flagged `truncated`). */
  outputCapBytes?: number;
  /** Where results wait until the API takes them (the data folder's `bridge-results/`); without it, in memory only. */
  resultsDir?: string;
  /** Each request, headers and body, is cut off after this long (REQUEST_TIMEOUT_MS by default). */
  requestTimeoutMs?: number;
  /** The HTTP: Node's fetch by default, Electron's net.fetch in the desktop app. */
  fetch?: typeof fetch;
}

/** A result on its way to the API: retried with backoff until delivered, or the API says the item is gone. */
interface PendingReport {
  workId: string;
  report: BridgeReport;
  attempt: number;
  dueAt: number;
  busy: boolean;
}

const SCRIPT_FILE = 'outpost-script';
/** Per stream, so that an ack stays a modest request whatever a script prints. */
export const OUTPUT_CAP_BYTES = 256 * 1024;

/**
 * AINative Bridge environments (seed 000): poll honouring poll_interval_ms, run each
 * `code_execution` item's script in a container, ack with its result, stop with a reason;
 * the environment (not each item) is kept alive with heartbeats, and reconnected when
 * the API says it is disconnected.
 */
export class BridgeProvider implements ControlPlane {
  readonly provider = 'ainative';
  readonly environmentId: string;
  readonly #opts: BridgeProviderOptions;
  readonly #baseURL: string;
  readonly #scripts = new Map<string, string>();
  /**
   * Items this process runs, or whose end it has yet to deliver. Seed 000: a poll "returns the first pending
   * item" and only an ack or stop removes it from the queue, so the API may hand out an item again while it
   * runs here; that delivery must neither restart nor kill it.
   */
  readonly #running = new Set<string>();
  readonly #redelivered = new Set<string>();
  /**
   * When each item stopped running here. A poll sent before then may still hand it out: the server answered it before
   * our ack or stop landed. Served again, it would run twice and be reported twice.
   */
  readonly #endedAt = new Map<string, number>();
  readonly #pending = new Map<string, PendingReport>();
  readonly #store: BridgeResultStore | undefined;
  /** Aborted by abortInFlight (a second stop request): every request under way ends now. */
  #inFlight = new AbortController();
  #wakeDelivery = new AbortController();

  constructor(opts: BridgeProviderOptions) {
    this.#opts = opts;
    this.environmentId = opts.environmentId;
    this.#baseURL = opts.baseURL.replace(/\/+$/, '');
    if (opts.resultsDir) {
      this.#store = new BridgeResultStore(opts.resultsDir);
      // Results an earlier process could not deliver (a 502, a kill): delivered by keepAlive, and never run again meanwhile.
      const { pending, unreadable } = this.#store.load(this.environmentId);
      for (const { workId, report } of pending) {
        this.#pending.set(workId, { workId, report, attempt: 0, dueAt: 0, busy: false });
        this.#running.add(workId);
      }
      if (pending.length) opts.logger.info('results of earlier work items wait for delivery', { environment_id: this.environmentId, items: pending.length });
      for (const name of unreadable) opts.logger.warn('ignored an unreadable pending Bridge result', { file: name });
    }
  }

  async poll(signal: AbortSignal): Promise<{ work: WorkItem | null; idleMs?: number }> {
    let raw: unknown;
    const sentAt = Date.now();
    try {
      raw = await this.#request('poll', 'GET', `/v1/environments/${enc(this.environmentId)}/work/poll`, undefined, signal);
    } catch (e) {
      if (!isDisconnected(e)) throw e;
      await this.#reconnect(signal);
      return { work: null, idleMs: 0 };
    }
    const parsed = pollSchema.safeParse(raw);
    if (!parsed.success) {
      const refusal = await this.#refuse(raw, signal);
      throw new MalformedWorkError(`poll returned something that is not a Bridge poll response${refusal}: ${z.prettifyError(parsed.error)}`);
    }
    const { work, poll_interval_ms } = parsed.data;
    if (!work) return { work: null, idleMs: poll_interval_ms };
    if ((this.#endedAt.get(work.work_id) ?? -Infinity) >= sentAt) {
      this.#opts.logger.debug('a poll sent before the item ended here handed it out; ignored', { environment_id: this.environmentId, work_id: work.work_id });
      return { work: null, idleMs: 0 };
    }
    if (this.#running.has(work.work_id)) {
      // Handed out again while it runs here (or its result is on its way): not ours to restart. Wait as for an empty queue.
      const fields = { environment_id: this.environmentId, work_id: work.work_id };
      if (this.#redelivered.has(work.work_id)) this.#opts.logger.debug('handed out again an item this worker still runs', fields);
      else this.#opts.logger.info('the Bridge API handed out again an item this worker still runs; leaving the run alone', fields);
      this.#redelivered.add(work.work_id);
      return { work: null, idleMs: poll_interval_ms };
    }
    const script = work.payload['script'];
    const runnable = work.type === 'code_execution' && typeof script === 'string';
    if (runnable) this.#scripts.set(work.work_id, script);
    return { work: { id: work.work_id, environmentId: this.environmentId, kind: runnable ? 'script' : 'unsupported', subjectId: work.type } };
  }

  /**
   * Work whose id is refused is never run: it was taken by the poll, so it is stopped with a reason —
   * safe, since the stop carries the id in its JSON body, never in a path.
   */
  async #refuse(raw: unknown, signal: AbortSignal): Promise<string> {
    const id = (raw as { work?: { work_id?: unknown } | null } | null)?.work?.work_id;
    if (typeof id !== 'string' || isControlPlaneId(id)) return '';
    try {
      await this.#request('stop', 'POST', `/v1/environments/${enc(this.environmentId)}/work/stop`, { work_id: id, reason: 'refused: the work id is not an id Outpost accepts' }, signal);
      return ` (work ${quoteId(id)} refused and stopped, not run)`;
    } catch (e) {
      return ` (work ${quoteId(id)} refused, not run; the stop failed: ${this.describe(e)})`;
    }
  }

  /** Bridge work is taken by the poll itself; the ack comes with the result. From here the item runs here. */
  async accept(work: WorkItem): Promise<void> {
    this.#running.add(work.id);
  }

  open(work: WorkItem): ItemLifecycle {
    const script = this.#scripts.get(work.id) ?? '';
    this.#scripts.delete(work.id);
    return new BridgeItem(this, work, script, this.#opts);
  }

  async checkReachable(signal?: AbortSignal): Promise<void> {
    await this.listProviders(signal);
  }

  /**
   * For as long as the worker runs: heartbeat within next_heartbeat_ms, reconnect after a disconnect,
   * and deliver the results that wait.
   */
  async keepAlive(signal: AbortSignal): Promise<void> {
    // Never rejects; it ends when the worker stops, which it does on a fatal heartbeat too.
    const delivering = this.#deliverPending(signal);
    await this.#heartbeats(signal);
    await delivering;
  }

  /** A second stop request: end every request under way now (a result cut off waits on disk for the next start). */
  abortInFlight(): void {
    const ctrl = this.#inFlight;
    this.#inFlight = new AbortController();
    ctrl.abort(new Error('Outpost is stopping now'));
  }

  async #heartbeats(signal: AbortSignal): Promise<void> {
    const { logger } = this.#opts;
    while (!signal.aborted) {
      let waitMs = 2_000;
      try {
        const reply = heartbeatSchema.parse(await this.#request('environment heartbeat', 'POST', `/v1/environments/${enc(this.environmentId)}/work/heartbeat`, {}, signal));
        // Half the window: one lost heartbeat still leaves time for the next.
        waitMs = Math.min(Math.max(reply.next_heartbeat_ms / 2, 250), 30_000);
        // Seed 000 does not say how a disconnected environment answers; a 200 that says so is as good as a 409.
        if (reply.status === 'disconnected') throw new BridgeApiError(409, 'the heartbeat says the environment is disconnected', 'environment heartbeat');
      } catch (e) {
        if (signal.aborted) return;
        if (isDisconnected(e)) {
          try {
            await this.#reconnect(signal);
            continue;
          } catch (err) {
            if (signal.aborted) return;
            if (this.isFatal(err)) throw err;
            // Not at once again: a reconnect that keeps failing must not spin.
            logger.warn('reconnect failed; retrying', { environment_id: this.environmentId, error: this.describe(err) });
          }
        } else {
          if (this.isFatal(e)) throw e;
          logger.warn('environment heartbeat failed; retrying', { environment_id: this.environmentId, error: this.describe(e) });
        }
      }
      await sleep(waitMs, signal);
    }
  }

  async #reconnect(signal?: AbortSignal): Promise<void> {
    this.#opts.logger.warn('the environment was marked disconnected; reconnecting', { environment_id: this.environmentId });
    await this.#request('reconnect', 'POST', `/v1/environments/${enc(this.environmentId)}/bridge/reconnect`, {}, signal);
    this.#opts.logger.info('environment reconnected', { environment_id: this.environmentId });
  }

  /** An item whose container outlived its Outpost cannot be finished; stop it with a reason. */
  async recover(claim: ClaimRecord): Promise<'stopped' | 'left'> {
    if (claim.provider !== this.provider || claim.environmentId !== this.environmentId) return 'left';
    // It ended before the process died and its result waits on disk: keepAlive delivers that, not a stop.
    if (this.#pending.has(claim.workId)) return 'left';
    try {
      await this.stop(claim.workId, 'the worker restarted while running it');
      return 'stopped';
    } catch (e) {
      if (e instanceof BridgeApiError && e.status === 404) return 'left';
      throw e;
    }
  }

  async ack(workId: string, result: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
    await this.#request('ack', 'POST', `/v1/environments/${enc(this.environmentId)}/work/ack`, { work_id: workId, result }, signal);
  }

  async stop(workId: string, reason: string, signal?: AbortSignal): Promise<void> {
    await this.#request('stop', 'POST', `/v1/environments/${enc(this.environmentId)}/work/stop`, { work_id: workId, reason }, signal);
  }

  /**
   * Report how an item ended. The result is kept (on disk when there is a results folder) before the first
   * attempt and until the API takes it, so a 5xx, a dropped connection or a restart in between loses nothing;
   * keepAlive retries with backoff. Resolves after the first attempt, delivered or not.
   */
  async report(workId: string, report: BridgeReport, signal?: AbortSignal): Promise<void> {
    const entry: PendingReport = { workId, report, attempt: 0, dueAt: 0, busy: false };
    this.#pending.set(workId, entry);
    try {
      this.#store?.save(this.environmentId, workId, report);
    } catch (e) {
      this.#opts.logger.error('could not keep the work item’s result on disk; it is held in memory only', { work_id: workId, error: this.describe(e) });
    }
    await this.#attempt(entry, signal);
  }

  /** An item that ends without a report (it was lost): it no longer runs here. */
  release(workId: string): void {
    if (!this.#pending.has(workId)) this.#forget(workId);
  }

  async #attempt(entry: PendingReport, signal?: AbortSignal): Promise<void> {
    const { logger } = this.#opts;
    if (entry.busy) return;
    entry.busy = true;
    try {
      if (entry.report.kind === 'ack') await this.ack(entry.workId, entry.report.result, signal);
      else await this.stop(entry.workId, entry.report.reason, signal);
      if (entry.attempt > 0) logger.info('reported the work item’s end', { work_id: entry.workId, attempts: entry.attempt + 1 });
      this.#settle(entry.workId);
    } catch (e) {
      if (isGone(e)) {
        // The API says the item is no more (deleted environment, an item already removed): nothing left to deliver to.
        logger.warn('the Bridge API no longer knows the work item; its result is dropped', { work_id: entry.workId, error: this.describe(e) });
        this.#settle(entry.workId);
        return;
      }
      if (signal?.aborted || this.#pending.get(entry.workId) !== entry) return;
      // Outpost's own retry: the SDK poller's 1 s … 60 s, jittered, or the server's Retry-After (capped) if longer.
      const retryAfterMs = e instanceof BridgeApiError ? e.retryAfterMs : undefined;
      const waitMs = Math.max(backoff(entry.attempt) * (1 - Math.random() * 0.25), retryAfterMs ?? 0);
      entry.attempt++;
      entry.dueAt = Date.now() + waitMs;
      logger.warn('could not report the work item’s end; retrying', {
        work_id: entry.workId,
        error: this.describe(e),
        attempt: entry.attempt,
        retry_in_ms: Math.round(waitMs),
        ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}),
      });
      this.#wakeDelivery.abort();
    } finally {
      entry.busy = false;
    }
  }

  /** The background half of report(): each waiting result when it is due, until the worker stops. */
  async #deliverPending(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      for (const entry of [...this.#pending.values()]) {
        if (signal.aborted) return;
        if (entry.dueAt <= Date.now()) await this.#attempt(entry, signal);
      }
      const due = [...this.#pending.values()].filter((e) => !e.busy).map((e) => e.dueAt);
      const waitMs = due.length ? Math.max(Math.min(...due) - Date.now(), 50) : 60_000;
      if (this.#wakeDelivery.signal.aborted) this.#wakeDelivery = new AbortController();
      await sleep(waitMs, AbortSignal.any([signal, this.#wakeDelivery.signal]));
    }
  }

  #settle(workId: string): void {
    this.#pending.delete(workId);
    try {
      this.#store?.remove(workId);
    } catch (e) {
      this.#opts.logger.warn('could not remove a delivered result from disk', { work_id: workId, error: this.describe(e) });
    }
    this.#forget(workId);
  }

  #forget(workId: string): void {
    this.#running.delete(workId);
    this.#redelivered.delete(workId);
    // No poll outlives its timeout: an end older than that can no longer race one.
    const now = Date.now();
    for (const [id, at] of this.#endedAt) if (now - at > (this.#opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS) + 1_000) this.#endedAt.delete(id);
    this.#endedAt.set(workId, now);
  }

  async listProviders(signal?: AbortSignal) {
    return providersSchema.parse(await this.#request('providers list', 'GET', '/v1/environment_providers', undefined, signal)).providers;
  }

  /** Create a bridge environment (`byoc`: compute on this machine). */
  static async createEnvironment(opts: { baseURL: string; token: Secret; provider?: string; metadata?: Record<string, unknown>; fetch?: typeof fetch }) {
    const raw = await bridgeRequest({
      fetchImpl: opts.fetch ?? globalFetch,
      baseURL: opts.baseURL,
      token: opts.token,
      call: 'environment create',
      method: 'POST',
      path: '/v1/environments/bridge',
      body: { provider: opts.provider ?? 'byoc', metadata: opts.metadata ?? {} },
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    return environmentSchema.parse(raw);
  }

  async deleteEnvironment(): Promise<void> {
    await this.#request('environment delete', 'DELETE', `/v1/environments/bridge/${enc(this.environmentId)}`);
  }

  isFatal(error: unknown): boolean {
    return error instanceof BridgeApiError && (error.status === 401 || error.status === 403 || error.status === 404);
  }

  describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
  }

  #request(call: string, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const stopNow = this.#inFlight.signal;
    return bridgeRequest({
      baseURL: this.#baseURL,
      token: this.#opts.token,
      call,
      method,
      path,
      body,
      signal: signal ? AbortSignal.any([signal, stopNow]) : stopNow,
      timeoutMs: this.#opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
      fetchImpl: this.#opts.fetch ?? globalFetch,
    });
  }
}

class BridgeItem implements ItemLifecycle {
  // Bridge has no per-item lease: only a re-delivery of an item we run takes it back.
  readonly #ctrl = new AbortController();
  #end: 'lost' | undefined;
  #detail = '';

  constructor(
    private readonly provider: BridgeProvider,
    private readonly work: WorkItem,
    private readonly script: string,
    private readonly opts: BridgeProviderOptions,
  ) {}

  /** The script, as a file in the workspace, run by the interpreter; nothing secret enters the container. */
  container(): ContainerWork {
    return {
      env: { OUTPOST_WORK_ID: this.work.id, OUTPOST_ENVIRONMENT_ID: this.work.environmentId },
      cmd: [...(this.opts.interpreter ?? ['python3']), `/workspace/${SCRIPT_FILE}`],
      files: { [SCRIPT_FILE]: this.script },
      captureBytes: this.opts.outputCapBytes ?? OUTPUT_CAP_BYTES,
      timeoutMs: this.opts.timeoutMs ?? 10 * 60_000,
    };
  }

  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  get end(): 'lost' | undefined {
    return this.#end;
  }

  get detail(): string {
    return this.#detail;
  }

  async ready(): Promise<boolean> {
    return true;
  }

  surrender(detail: string): void {
    this.#end = 'lost';
    this.#detail = detail;
    this.#ctrl.abort();
  }

  async checkNow(): Promise<void> {}

  /**
   * Never throws: what the first attempt does not deliver, the provider retries (report()). The first
   * attempt ends with `signal` (a second stop): a hung ack must not hold the worker's exit for its 30 s bound.
   */
  async finish(outcome: ItemOutcome, signal?: AbortSignal): Promise<void> {
    if (this.#end === 'lost') return this.provider.release(this.work.id);
    await this.provider.report(
      this.work.id,
      outcome.kind === 'exited' ?
        {
          kind: 'ack',
          result: { exit_code: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr, duration_ms: outcome.durationMs, truncated: outcome.truncated },
        }
      : { kind: 'stop', reason: outcome.reason },
      signal,
    );
  }
}

interface BridgeRequest {
  baseURL: string;
  token: Secret;
  /** Named in every error: the user learns which call failed. */
  call: string;
  method: string;
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs: number;
  fetchImpl: typeof fetch;
}

/** Bridge answers are small JSON documents. */
const MAX_BODY_BYTES = 1 << 20;

/** One call, bounded end to end: the timeout covers the answer's headers and its body (DESIGN §4). No retries here. */
async function bridgeRequest({ baseURL, token, call, method, path, body, signal, timeoutMs, fetchImpl }: BridgeRequest): Promise<unknown> {
  const bound = deadline(timeoutMs, ...(signal ? [signal] : []));
  let res: Response;
  let text: string;
  try {
    res = await fetchImpl(`${baseURL.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token.reveal()}`, 'content-type': 'application/json', 'anthropic-beta': 'ccr-byoc-2025-07-29' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: bound,
    });
    // Up to a size, too: read whole, a 50 MB poll body would grow the worker's memory by hundreds of MiB.
    text = (await readCapped(res, MAX_BODY_BYTES)).toString('utf8');
  } catch (e) {
    if (signal?.aborted) throw e;
    if (e instanceof ResponseTooLargeError) throw new Error(`the ${call} (${method} ${path}) answered with more than ${MAX_BODY_BYTES / 2 ** 20} MiB; it was not read`, { cause: e });
    if (bound.aborted) throw new Error(`the ${call} (${method} ${path}) did not answer within ${timeoutMs / 1000} s`, { cause: e });
    // fetch's "fetch failed" names neither the host nor the cause.
    throw new Error(`the ${call} cannot reach ${baseURL} (${connectionCause(e) ?? (e as Error).message})`, { cause: e });
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new Error(`the Bridge API answered ${method} ${path} with a body that is not JSON`);
  }
  if (!res.ok) {
    const detail = (parsed as { detail?: unknown } | undefined)?.detail;
    throw new BridgeApiError(res.status, typeof detail === 'string' ? detail : res.statusText, call, retryAfter(res.headers.get('retry-after')));
  }
  return parsed;
}

/** Retry-After in seconds or as a date, capped: a server cannot park Outpost for an hour. */
function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : undefined;
}

function isDisconnected(e: unknown): boolean {
  return e instanceof BridgeApiError && e.status === 409;
}

/**
 * The API will never take this report: the item or environment is gone (404, 410) or the request itself is
 * refused (400, 413, 422). 401/403 are not: a key put right delivers it, and the worker stops on them anyway.
 */
function isGone(e: unknown): boolean {
  return e instanceof BridgeApiError && [400, 404, 410, 413, 422].includes(e.status);
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
