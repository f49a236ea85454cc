import { z } from 'zod';
import { controlPlaneId, isControlPlaneId, quoteId } from '../../../shared/ids.js';
import type { Logger } from '../log.js';
import type { Secret } from '../secret.js';
import { sleep } from '../timing.js';
import { connectionCause, MalformedWorkError, type ClaimRecord, type ContainerWork, type ControlPlane, type ItemLifecycle, type ItemOutcome, type WorkItem } from './control-plane.js';

/** An answer from the Bridge API that is not a success: its status and its `detail`. */
export class BridgeApiError extends Error {
  override name = 'BridgeApiError';
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

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
const heartbeatSchema = z.object({ next_heartbeat_ms: z.number().int().positive() });
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

  constructor(opts: BridgeProviderOptions) {
    this.#opts = opts;
    this.environmentId = opts.environmentId;
    this.#baseURL = opts.baseURL.replace(/\/+$/, '');
  }

  async poll(signal: AbortSignal): Promise<{ work: WorkItem | null; idleMs?: number }> {
    let raw: unknown;
    try {
      raw = await this.#request('GET', `/v1/environments/${enc(this.environmentId)}/work/poll`, undefined, signal);
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
      await this.#request('POST', `/v1/environments/${enc(this.environmentId)}/work/stop`, { work_id: id, reason: 'refused: the work id is not an id Outpost accepts' }, signal);
      return ` (work ${quoteId(id)} refused and stopped, not run)`;
    } catch (e) {
      return ` (work ${quoteId(id)} refused, not run; the stop failed: ${this.describe(e)})`;
    }
  }

  /** Bridge work is taken by the poll itself; the ack comes with the result. */
  async accept(): Promise<void> {}

  open(work: WorkItem): ItemLifecycle {
    const script = this.#scripts.get(work.id) ?? '';
    this.#scripts.delete(work.id);
    return new BridgeItem(this, work, script, this.#opts);
  }

  async checkReachable(signal?: AbortSignal): Promise<void> {
    await this.listProviders(signal);
  }

  /** Heartbeat within next_heartbeat_ms, for as long as the worker runs; reconnect after a disconnect. */
  async keepAlive(signal: AbortSignal): Promise<void> {
    const { logger } = this.#opts;
    while (!signal.aborted) {
      let waitMs = 2_000;
      try {
        const reply = heartbeatSchema.parse(await this.#request('POST', `/v1/environments/${enc(this.environmentId)}/work/heartbeat`, {}, signal));
        // Half the window: one lost heartbeat still leaves time for the next.
        waitMs = Math.min(Math.max(reply.next_heartbeat_ms / 2, 250), 30_000);
      } catch (e) {
        if (signal.aborted) return;
        if (isDisconnected(e)) {
          await this.#reconnect(signal).catch((err: unknown) => {
            if (this.isFatal(err)) throw err;
          });
          continue;
        }
        if (this.isFatal(e)) throw e;
        logger.warn('environment heartbeat failed; retrying', { environment_id: this.environmentId, error: this.describe(e) });
      }
      await sleep(waitMs, signal);
    }
  }

  async #reconnect(signal?: AbortSignal): Promise<void> {
    this.#opts.logger.warn('the environment was marked disconnected; reconnecting', { environment_id: this.environmentId });
    await this.#request('POST', `/v1/environments/${enc(this.environmentId)}/bridge/reconnect`, {}, signal);
    this.#opts.logger.info('environment reconnected', { environment_id: this.environmentId });
  }

  /** An item whose container outlived its Outpost cannot be finished; stop it with a reason. */
  async recover(claim: ClaimRecord): Promise<'stopped' | 'left'> {
    if (claim.provider !== this.provider || claim.environmentId !== this.environmentId) return 'left';
    try {
      await this.stop(claim.workId, 'the worker restarted while running it');
      return 'stopped';
    } catch (e) {
      if (e instanceof BridgeApiError && e.status === 404) return 'left';
      throw e;
    }
  }

  async ack(workId: string, result: Record<string, unknown>): Promise<void> {
    await this.#request('POST', `/v1/environments/${enc(this.environmentId)}/work/ack`, { work_id: workId, result });
  }

  async stop(workId: string, reason: string): Promise<void> {
    await this.#request('POST', `/v1/environments/${enc(this.environmentId)}/work/stop`, { work_id: workId, reason });
  }

  async listProviders(signal?: AbortSignal) {
    return providersSchema.parse(await this.#request('GET', '/v1/environment_providers', undefined, signal)).providers;
  }

  /** Create a bridge environment (`byoc`: compute on this machine). */
  static async createEnvironment(opts: { baseURL: string; token: Secret; provider?: string; metadata?: Record<string, unknown> }) {
    const raw = await bridgeRequest(opts.baseURL, opts.token, 'POST', '/v1/environments/bridge', { provider: opts.provider ?? 'byoc', metadata: opts.metadata ?? {} });
    return environmentSchema.parse(raw);
  }

  async deleteEnvironment(): Promise<void> {
    await this.#request('DELETE', `/v1/environments/bridge/${enc(this.environmentId)}`);
  }

  isFatal(error: unknown): boolean {
    return error instanceof BridgeApiError && (error.status === 401 || error.status === 403 || error.status === 404);
  }

  describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
  }

  #request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    return bridgeRequest(this.#baseURL, this.#opts.token, method, path, body, signal);
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

  async finish(outcome: ItemOutcome): Promise<void> {
    if (this.#end === 'lost') return;
    try {
      if (outcome.kind === 'exited') {
        await this.provider.ack(this.work.id, {
          exit_code: outcome.exitCode,
          stdout: outcome.stdout,
          stderr: outcome.stderr,
          duration_ms: outcome.durationMs,
          truncated: outcome.truncated,
        });
      } else {
        await this.provider.stop(this.work.id, outcome.reason);
      }
    } catch (e) {
      this.opts.logger.error('could not report the work item’s end', { work_id: this.work.id, error: this.provider.describe(e) });
    }
  }
}

async function bridgeRequest(baseURL: string, token: Secret, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${baseURL.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token.reveal()}`, 'content-type': 'application/json', 'anthropic-beta': 'ccr-byoc-2025-07-29' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(signal ? { signal } : {}),
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    // fetch's "fetch failed" names neither the host nor the cause.
    throw new Error(`cannot reach ${baseURL} (${connectionCause(e) ?? (e as Error).message})`, { cause: e });
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    if (res.ok) throw new Error(`the Bridge API answered ${method} ${path} with a body that is not JSON`);
  }
  if (!res.ok) {
    const detail = (parsed as { detail?: unknown } | undefined)?.detail;
    throw new BridgeApiError(res.status, typeof detail === 'string' ? detail : res.statusText);
  }
  return parsed;
}

function isDisconnected(e: unknown): boolean {
  return e instanceof BridgeApiError && e.status === 409;
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
