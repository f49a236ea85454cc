import Anthropic from '@anthropic-ai/sdk';
import { isFatal4xx, isStatus, POLL_BLOCK_MS } from '@anthropic-ai/sdk/lib/environments/index';
import { deadline } from '../../base/timing.js';
import { sessionsTokenFromSecret } from '@anthropic-ai/sdk/lib/environments/worker';
import { z } from 'zod';
import { quoteId } from '../../../../shared/ids.js';
import type { Logger } from '../../logs/log.js';
import { Secret } from '../../secrets/secret.js';
import type { ClaimRecord, ClaimRecorder, ContainerWork, ControlPlane, ItemLifecycle, ItemOutcome, LifecycleEnd, WorkItem } from '../control-plane.js';
import { connectionCause, MalformedWorkError } from '../control-plane.js';
import { globalFetch } from '../http.js';
import { MAX_RETRIES, boundedFetch, describeApiError, ItemChannel, REQUEST_TIMEOUT_MS, withRetries, workSchema } from './api.js';
import { LeaseKeeper } from './lease.js';

/** What the poll response told us about an item beyond the WorkItem: its credential and where its calls go. */
interface ItemCredentials {
  /** The secret's sessions token, or the environment key as fallback. */
  credential: Secret;
  /** True when `credential` came from the item's own secret (and may be handed to its container). */
  hasSessionsToken: boolean;
  apiBaseUrl: string;
}

/** A poll blocks at most 999 ms on the server: one not answered in 5 s (headers and body) is hung, and is cut off and retried. */
const POLL_TIMEOUT_MS = 5_000;

/** The work types this worker serves; any other is stopped with a reason. */
const KNOWN_TYPES = new Set(['session', 'healthcheck']);

export interface AnthropicProviderOptions {
  baseURL: string;
  environmentId: string;
  environmentKey: Secret;
  workerId: string;
  logger: Logger;
  /** Retries of each call (Outpost's own, logged, Retry-After capped); the poll loop adds its own backoff on top. */
  maxRetries?: number;
  /** The HTTP under the SDK: Node's fetch by default, Electron's net.fetch in the desktop app. */
  fetch?: typeof fetch;
}

/**
 * Anthropic self-hosted environments over the official SDK (seed 001, SDK lib/environments).
 * Polling and acks use the environment key; each item's heartbeat and stop use the
 * item's sessions token when its secret carries one. The API key is never used here:
 * `apiKey: null` also stops the SDK from picking up ANTHROPIC_API_KEY from the environment.
 */
export class AnthropicProvider implements ControlPlane {
  readonly provider = 'anthropic';
  readonly environmentId: string;
  readonly workerId: string;
  readonly baseURL: string;
  readonly #environmentKey: Secret;
  readonly #client: Anthropic;
  readonly #maxRetries: number;
  readonly #logger: Logger;
  readonly #fetch: typeof fetch;
  readonly #credentials = new Map<string, ItemCredentials>();

  constructor(opts: AnthropicProviderOptions) {
    this.environmentId = opts.environmentId;
    this.workerId = opts.workerId;
    this.baseURL = opts.baseURL.replace(/\/+$/, '');
    this.#environmentKey = opts.environmentKey;
    this.#maxRetries = opts.maxRetries ?? MAX_RETRIES;
    this.#logger = opts.logger;
    this.#fetch = opts.fetch ?? globalFetch;
    this.#client = this.#clientFor(opts.environmentKey);
  }

  /**
   * The SDK retries nothing (maxRetries 0): it would honour a Retry-After of any length, unlogged.
   * Retries are withRetries'; boundedFetch puts the body read under the SDK's timeout too.
   */
  #clientFor(credential: Secret): Anthropic {
    // Polls have their own, shorter limit (POLL_TIMEOUT_MS).
    return new Anthropic({ baseURL: this.baseURL, apiKey: null, authToken: credential.reveal(), maxRetries: 0, timeout: REQUEST_TIMEOUT_MS, fetch: boundedFetch(this.#fetch) });
  }

  #call<T>(what: string, call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    return withRetries(what, call, { signal, logger: this.#logger, retries: this.#maxRetries });
  }

  /** One long poll (block_ms 999). Empty: the SDK poller's jittered 1–3 s wait applies. */
  async poll(signal: AbortSignal): Promise<{ work: WorkItem | null; idleMs?: number }> {
    const raw: unknown = await this.#call(
      'poll',
      (s) =>
        this.#client.beta.environments.work.poll(
          this.environmentId,
          { 'Anthropic-Worker-ID': this.workerId, block_ms: POLL_BLOCK_MS },
          { signal: s, timeout: POLL_TIMEOUT_MS },
        ),
      signal,
    );
    if (raw == null) return { work: null };
    const parsed = workSchema.safeParse(raw);
    if (!parsed.success) {
      const refusal = await this.#refuse(raw, parsed.error, signal);
      throw new MalformedWorkError(`poll returned something that is not a work item${refusal}: ${z.prettifyError(parsed.error)}`);
    }
    const work = parsed.data;
    if (work.environment_id !== this.environmentId) {
      // Acked, it would run under this environment's profile and key; and no worker of its own environment would ever see it.
      await this.#refuseForeign(work.id, work.environment_id, signal);
      return { work: null, idleMs: 0 };
    }
    const sessionsToken = sessionsTokenFromSecret(work.secret);
    this.#credentials.set(work.id, {
      credential: sessionsToken ? new Secret(sessionsToken) : this.#environmentKey,
      hasSessionsToken: sessionsToken !== null,
      apiBaseUrl: apiBaseUrlFromSecret(work.secret) ?? this.baseURL,
    });
    // An unknown type is acked and stopped with a reason through the usual item run (as Bridge items are): never run.
    if (!KNOWN_TYPES.has(work.data.type)) return { work: { id: work.id, environmentId: work.environment_id, kind: 'unsupported', subjectId: work.data.type } };
    return { work: { id: work.id, environmentId: work.environment_id, kind: work.data.type as 'session' | 'healthcheck', subjectId: work.data.id } };
  }

  /**
   * The poll handed out an item that says it belongs to another environment. It is never acked nor run,
   * and is force-stopped where it came from (this environment's queue, with this environment's key —
   * the only key we hold) so that it does not come back at every poll. A control plane that refuses
   * the stop (a 404: it truly is another queue's) leaves it to that queue; the log says which.
   */
  async #refuseForeign(id: string, environmentId: string, signal: AbortSignal): Promise<void> {
    // Both ids passed the schema (control-plane ids): safe to print as they are.
    const what = `refused work ${id}: it is for environment ${environmentId}, not ${this.environmentId}`;
    try {
      await new ItemChannel(this.#client, { id, environmentId: this.environmentId }, this.#logger).forceStop(signal);
      this.#logger.warn(`${what}; stopped, not run`, { work_id: id, environment_id: this.environmentId });
    } catch (e) {
      this.#logger.warn(`${what}; not run, and could not be stopped (${describeApiError(e)})`, { work_id: id, environment_id: this.environmentId });
    }
  }

  /**
   * A work item whose ids are refused is never run. It is force-stopped (with the environment key: its
   * secret is not trusted either) so that it does not come back at every poll — safe, because the SDK
   * percent-encodes a path parameter and throws on a `.` or `..` one instead of sending it. Otherwise
   * it is skipped; the poll loop logs it and backs off.
   */
  async #refuse(raw: unknown, error: z.ZodError, signal: AbortSignal): Promise<string> {
    const id = (raw as { id?: unknown } | null)?.id;
    const idIssue = error.issues.some((i) => /^(id|environment_id|data\.id)$/.test(i.path.join('.')));
    if (typeof id !== 'string' || id === '' || !idIssue) return '';
    try {
      await new ItemChannel(this.#client, { id, environmentId: this.environmentId }, this.#logger).forceStop(signal);
      return ` (its ids are refused; work ${quoteId(id)} stopped, not run)`;
    } catch (e) {
      return ` (its ids are refused; work ${quoteId(id)} skipped, not run: ${describeApiError(e)})`;
    }
  }

  async accept(work: WorkItem, signal: AbortSignal): Promise<void> {
    try {
      await this.#call('ack', (s) => this.#client.beta.environments.work.ack(work.id, { environment_id: work.environmentId }, { signal: s }), signal);
    } catch (e) {
      this.#credentials.delete(work.id);
      throw e;
    }
  }

  open(work: WorkItem, record: ClaimRecorder): ItemLifecycle {
    const credentials = this.#credentials.get(work.id);
    if (!credentials) throw new Error(`work ${work.id} was not polled by this worker`);
    this.#credentials.delete(work.id);
    const channel = new ItemChannel(this.#clientFor(credentials.credential), work, this.#logger);
    return new AnthropicItem(work, credentials, channel, this.#logger, record);
  }

  async checkReachable(signal: AbortSignal): Promise<void> {
    await this.#call('checking the API', (s) => this.#client.beta.environments.work.stats(this.environmentId, {}, { signal: s }), signal);
  }

  /**
   * The item's sessions token died with the process that held it, so recovery speaks with the
   * environment key (the documented fallback) and proves the lease is still ours by echoing the
   * last heartbeat we recorded. 412: another worker holds it; 409: it lapsed back to the queue.
   */
  async recover(claim: ClaimRecord, signal: AbortSignal): Promise<'stopped' | 'left'> {
    if (claim.provider !== this.provider || claim.environmentId !== this.environmentId || !claim.lastHeartbeat) return 'left';
    const channel = new ItemChannel(this.#client, { id: claim.workId, environmentId: claim.environmentId }, this.#logger);
    try {
      await channel.heartbeat(claim.lastHeartbeat, deadline(10_000, signal));
      await channel.forceStop(signal);
      return 'stopped';
    } catch (e) {
      if (isStatus(e, 412) || isStatus(e, 409)) return 'left';
      throw e;
    }
  }

  isFatal(error: unknown): boolean {
    return isFatal4xx(error);
  }

  describe(error: unknown): string {
    // The SDK's "Connection error." names neither the host nor the cause.
    if (error instanceof Anthropic.APIConnectionError && !(error instanceof Anthropic.APIConnectionTimeoutError)) {
      return `cannot reach ${this.baseURL} (${connectionCause(error) ?? error.message})`;
    }
    return describeApiError(error);
  }
}

/** One claimed Anthropic item: its lease (started at once), its container's environment, its force-stop. */
class AnthropicItem implements ItemLifecycle {
  readonly #lease: LeaseKeeper;

  constructor(
    private readonly work: WorkItem,
    private readonly credentials: ItemCredentials,
    private readonly channel: ItemChannel,
    private readonly logger: Logger,
    record: ClaimRecorder,
  ) {
    if (!credentials.hasSessionsToken) logger.warn('work item carried no sessions token; its container gets no credential', { work_id: work.id });
    // Started before any slow step (image pull, container create): a lapsed lease lets another worker serve the same session.
    this.#lease = new LeaseKeeper({ channel, workId: work.id, logger, onBeat: (lastHeartbeat) => record({ lastHeartbeat }) });
  }

  get signal(): AbortSignal {
    return this.#lease.signal;
  }

  get end(): LifecycleEnd | undefined {
    const end = this.#lease.end;
    return end === 'released' ? undefined : end;
  }

  get detail(): string {
    return this.#lease.detail;
  }

  /** The container's whole environment: the item's ids, its own token and the API base URL. Nothing else. */
  container(): ContainerWork {
    const { work, credentials } = this;
    return {
      apiBaseUrl: credentials.apiBaseUrl,
      env: {
        ANTHROPIC_BASE_URL: credentials.apiBaseUrl,
        ANTHROPIC_WORK_ID: work.id,
        ANTHROPIC_ENVIRONMENT_ID: work.environmentId,
        ANTHROPIC_SESSION_ID: work.subjectId,
        // Only the per-item token; the environment key it would otherwise fall back to stays on the host.
        ...(credentials.hasSessionsToken ? { ANTHROPIC_AUTH_TOKEN: credentials.credential.reveal() } : {}),
      },
    };
  }

  ready(): Promise<boolean> {
    return this.#lease.confirmed;
  }

  surrender(detail: string): void {
    this.#lease.surrender(detail);
  }

  checkNow(): Promise<void> {
    return this.#lease.checkNow();
  }

  /** Force-stop the item when it ends, however it ended — unless the lease moved on, when it is not ours to stop. */
  async finish(_outcome: ItemOutcome, signal: AbortSignal): Promise<void> {
    await this.#lease.release();
    try {
      if (!this.#lease.lost) await this.channel.forceStop(signal);
    } catch (e) {
      this.logger.error('could not stop the work item', { work_id: this.work.id, error: describeApiError(e) });
    } finally {
      // One token per item: a worker that runs for weeks must not carry every one it ever saw.
      if (this.credentials.hasSessionsToken) this.credentials.credential.dispose();
    }
  }
}

function apiBaseUrlFromSecret(secret: string | null | undefined): string | null {
  if (!secret) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(secret, 'base64url').toString('utf8'));
    const url = (payload as { api_base_url?: unknown } | null)?.api_base_url;
    return typeof url === 'string' && /^https?:\/\//.test(url) ? url.replace(/\/+$/, '') : null;
  } catch {
    return null;
  }
}
