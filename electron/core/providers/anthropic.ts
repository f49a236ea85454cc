import Anthropic from '@anthropic-ai/sdk';
import { isFatal4xx, isStatus, POLL_BLOCK_MS } from '@anthropic-ai/sdk/lib/environments/index';
import { sessionsTokenFromSecret } from '@anthropic-ai/sdk/lib/environments/worker';
import { z } from 'zod';
import { Secret } from '../secret.js';
import type { ItemKind } from '../../../shared/states.js';

/** A work item this worker has claimed, with what the rest of the core needs of it. */
export interface ClaimedWork {
  id: string;
  environmentId: string;
  kind: ItemKind;
  /** Session id (session items) or healthcheck id. */
  subjectId: string;
  /** The per-item credential: the secret's sessions token, or the environment key as fallback. */
  itemCredential: Secret;
  /** True when itemCredential came from the item's own secret (and may be handed to its container). */
  hasSessionsToken: boolean;
  /** Where the item's session calls go: the secret's api_base_url, or the worker's base URL. */
  apiBaseUrl: string;
}

export interface HeartbeatReply {
  lastHeartbeat: string;
  leaseExtended: boolean;
  state: string;
  ttlSeconds: number;
}

/** A poll body that is not a work item: logged and survived, never trusted. */
export class MalformedWorkError extends Error {
  override name = 'MalformedWorkError';
}

// Boundary check of what the control plane sends; the SDK types it but does not validate it.
const workSchema = z.object({
  id: z.string().min(1),
  environment_id: z.string().min(1),
  data: z.object({ type: z.enum(['session', 'healthcheck']), id: z.string().min(1) }),
  secret: z.string().nullish(),
});

const heartbeatSchema = z.object({
  last_heartbeat: z.string(),
  lease_extended: z.boolean(),
  state: z.string(),
  ttl_seconds: z.number(),
});

export interface AnthropicProviderOptions {
  baseURL: string;
  environmentId: string;
  environmentKey: Secret;
  workerId: string;
  /** The SDK's own retry count for each call; the poll loop adds its own backoff on top. */
  maxRetries?: number;
}

/**
 * Anthropic self-hosted environments over the official SDK (seed 001, SDK lib/environments).
 * Polling and acks use the environment key; each item's heartbeat and stop use the
 * item's sessions token when its secret carries one. The API key is never used here:
 * `apiKey: null` also stops the SDK from picking up ANTHROPIC_API_KEY from the environment.
 */
export class AnthropicProvider {
  readonly environmentId: string;
  readonly workerId: string;
  readonly baseURL: string;
  readonly #environmentKey: Secret;
  readonly #client: Anthropic;
  readonly #maxRetries: number;

  constructor(opts: AnthropicProviderOptions) {
    this.environmentId = opts.environmentId;
    this.workerId = opts.workerId;
    this.baseURL = opts.baseURL.replace(/\/+$/, '');
    this.#environmentKey = opts.environmentKey;
    this.#maxRetries = opts.maxRetries ?? 2;
    this.#client = this.#clientFor(opts.environmentKey, this.baseURL);
  }

  #clientFor(credential: Secret, baseURL: string): Anthropic {
    return new Anthropic({ baseURL, apiKey: null, authToken: credential.reveal(), maxRetries: this.#maxRetries });
  }

  /** One long poll (block_ms 999). Resolves null when the queue is empty. */
  async poll(signal: AbortSignal): Promise<ClaimedWork | null> {
    const raw: unknown = await this.#client.beta.environments.work.poll(
      this.environmentId,
      { 'Anthropic-Worker-ID': this.workerId, block_ms: POLL_BLOCK_MS },
      { signal },
    );
    if (raw == null) return null;
    const parsed = workSchema.safeParse(raw);
    if (!parsed.success) {
      throw new MalformedWorkError(`poll returned something that is not a work item: ${z.prettifyError(parsed.error)}`);
    }
    const work = parsed.data;
    const sessionsToken = sessionsTokenFromSecret(work.secret);
    const apiBaseUrl = apiBaseUrlFromSecret(work.secret) ?? this.baseURL;
    return {
      id: work.id,
      environmentId: work.environment_id,
      kind: work.data.type,
      subjectId: work.data.id,
      itemCredential: sessionsToken ? new Secret(sessionsToken) : this.#environmentKey,
      hasSessionsToken: sessionsToken !== null,
      apiBaseUrl,
    };
  }

  async ack(work: ClaimedWork, signal?: AbortSignal): Promise<void> {
    await this.#client.beta.environments.work.ack(work.id, { environment_id: work.environmentId }, { signal });
  }

  /** The calls an item makes with its own credential. */
  itemChannel(work: ClaimedWork): ItemChannel {
    return new ItemChannel(this.#clientFor(work.itemCredential, this.baseURL), work);
  }

  /** Item calls for an item this process no longer has a token for (startup recovery): the environment key. */
  recoveryChannel(workId: string, environmentId: string): ItemChannel {
    return new ItemChannel(this.#client, { id: workId, environmentId });
  }

  /** Cheap authenticated call proving the control plane answers (healthcheck items). */
  async checkReachable(signal?: AbortSignal): Promise<void> {
    await this.#client.beta.environments.work.stats(this.environmentId, {}, { signal });
  }
}

export class ItemChannel {
  constructor(
    private readonly client: Anthropic,
    private readonly work: Pick<ClaimedWork, 'id' | 'environmentId'>,
  ) {}

  async heartbeat(expectedLastHeartbeat: string, signal: AbortSignal): Promise<HeartbeatReply> {
    const raw: unknown = await this.client.beta.environments.work.heartbeat(
      this.work.id,
      { environment_id: this.work.environmentId, expected_last_heartbeat: expectedLastHeartbeat },
      { signal, maxRetries: 0 },
    );
    const reply = heartbeatSchema.parse(raw);
    return {
      lastHeartbeat: reply.last_heartbeat,
      leaseExtended: reply.lease_extended,
      state: reply.state,
      ttlSeconds: reply.ttl_seconds,
    };
  }

  /** Force-stop the item; 409 means it is already stopped, which is what we wanted. */
  async forceStop(): Promise<void> {
    try {
      await this.client.beta.environments.work.stop(this.work.id, {
        environment_id: this.work.environmentId,
        force: true,
      });
    } catch (e) {
      if (!isStatus(e, 409)) throw e;
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

export { isFatal4xx, isStatus };

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
