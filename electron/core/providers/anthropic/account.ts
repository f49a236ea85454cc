import Anthropic from '@anthropic-ai/sdk';
import type { BetaEnvironment } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import type { EnvironmentSummary } from '../../../../shared/contract.js';
import type { Secret } from '../../secrets/secret.js';
import { describeApiError, REQUEST_TIMEOUT_MS } from './api.js';
import { globalFetch } from '../http.js';

/** A failed account call in words the user can act on: where it went and what the API said. */
export class AccountError extends Error {
  override name = 'AccountError';
  constructor(
    message: string,
    /** The API refused the key itself (401, 403), as opposed to being unreachable or refusing the request. */
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/** What the API key is for: managing environments (list, create, archive) and reading their queues. Never the work loop. */
export class Account {
  readonly #client: Anthropic;
  readonly #baseURL: string;

  constructor(baseURL: string, apiKey: Secret, fetchImpl: typeof fetch = globalFetch) {
    this.#baseURL = baseURL;
    // authToken null: an ANTHROPIC_AUTH_TOKEN in the environment is never sent alongside.
    this.#client = new Anthropic({ baseURL, apiKey: apiKey.reveal(), authToken: null, timeout: REQUEST_TIMEOUT_MS, maxRetries: 1, fetch: fetchImpl });
  }

  /** One cheap call that the API refuses with a wrong key. */
  async verify(): Promise<void> {
    try {
      await this.#client.beta.environments.list({ limit: 1 });
    } catch (e) {
      const refused = isRefused(e);
      throw new AccountError(refused ? `The API refused this key (${describeApiError(e)})` : `Could not reach ${this.#baseURL} (${describeApiError(e)})`, refused);
    }
  }

  /** Every page. */
  environments(includeArchived: boolean): Promise<EnvironmentSummary[]> {
    return this.#call(async () => {
      const out: EnvironmentSummary[] = [];
      for await (const env of this.#client.beta.environments.list({ include_archived: includeArchived, limit: 100 })) out.push(summarize(env));
      return out;
    });
  }

  create(name: string): Promise<EnvironmentSummary> {
    return this.#call(async () => summarize(await this.#client.beta.environments.create({ name, config: { type: 'self_hosted' } })));
  }

  archive(environmentId: string): Promise<EnvironmentSummary> {
    return this.#call(async () => summarize(await this.#client.beta.environments.archive(environmentId)));
  }

  stats(environmentId: string) {
    return this.#call(async () => {
      const s = await this.#client.beta.environments.work.stats(environmentId);
      return { depth: s.depth, pending: s.pending, workersPolling: s.workers_polling ?? 0, oldestQueuedAt: s.oldest_queued_at ?? null };
    });
  }

  /** A call with the key, its failure in words: an answer from the API, or no answer at all. */
  async #call<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      const answered = e instanceof Anthropic.APIError && e.status;
      throw new AccountError(answered ? `The API at ${this.#baseURL} answered ${describeApiError(e)}` : `Could not reach ${this.#baseURL} (${describeApiError(e)})`, isRefused(e));
    }
  }
}

function isRefused(e: unknown): boolean {
  return e instanceof Anthropic.APIError && (e.status === 401 || e.status === 403);
}

function summarize(env: BetaEnvironment): EnvironmentSummary {
  return { id: env.id, name: env.name, selfHosted: env.config.type === 'self_hosted', archivedAt: env.archived_at, createdAt: env.created_at };
}
