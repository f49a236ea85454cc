import Anthropic from '@anthropic-ai/sdk';
import type { BetaEnvironment } from '@anthropic-ai/sdk/resources/beta/environments/environments';
import type { EnvironmentSummary } from '../../shared/contract.js';
import type { Secret } from './secret.js';

const REQUEST_TIMEOUT_MS = 15_000;

/** What the API key is for: managing environments (list, create, archive) and reading their queues. Never the work loop. */
export class Account {
  readonly #client: Anthropic;

  constructor(baseURL: string, apiKey: Secret) {
    // authToken null: an ANTHROPIC_AUTH_TOKEN in the environment is never sent alongside.
    this.#client = new Anthropic({ baseURL, apiKey: apiKey.reveal(), authToken: null, timeout: REQUEST_TIMEOUT_MS, maxRetries: 1 });
  }

  /** One cheap call that the API refuses with a wrong key. */
  async verify(): Promise<void> {
    await this.#client.beta.environments.list({ limit: 1 });
  }

  /** Every page. */
  async environments(includeArchived: boolean): Promise<EnvironmentSummary[]> {
    const out: EnvironmentSummary[] = [];
    for await (const env of this.#client.beta.environments.list({ include_archived: includeArchived, limit: 100 })) out.push(summarize(env));
    return out;
  }

  async create(name: string): Promise<EnvironmentSummary> {
    return summarize(await this.#client.beta.environments.create({ name, config: { type: 'self_hosted' } }));
  }

  async archive(environmentId: string): Promise<EnvironmentSummary> {
    return summarize(await this.#client.beta.environments.archive(environmentId));
  }

  async stats(environmentId: string) {
    const s = await this.#client.beta.environments.work.stats(environmentId);
    return { depth: s.depth, pending: s.pending, workersPolling: s.workers_polling ?? 0, oldestQueuedAt: s.oldest_queued_at ?? null };
  }
}

function summarize(env: BetaEnvironment): EnvironmentSummary {
  return { id: env.id, name: env.name, selfHosted: env.config.type === 'self_hosted', archivedAt: env.archived_at, createdAt: env.created_at };
}
