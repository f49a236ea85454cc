import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Account } from '../../electron/core/account.js';
import { Secret } from '../../electron/core/secret.js';
import { AnthropicPlayground } from '../../playground/anthropic.js';

describe('the account (API key) over the official SDK, against the playground', () => {
  let playground: AnthropicPlayground;
  before(async () => {
    playground = new AnthropicPlayground();
    await playground.start();
  });
  after(() => playground.close());

  it('lists every cursor page, archived ones only when asked', async () => {
    const account = new Account(playground.url, new Secret(playground.apiKey));
    for (let i = 0; i < 230; i++) playground.createEnvironment(`env-${i}`);
    const archived = await account.archive(playground.createEnvironment('old').environment.id);
    assert.ok(archived.archivedAt);
    const active = await account.environments(false);
    assert.equal(active.length, 230);
    assert.equal(new Set(active.map((e) => e.id)).size, 230);
    assert.equal((await account.environments(true)).length, 231);
  });

  it('creates a self-hosted environment and reads its queue', async () => {
    const account = new Account(playground.url, new Secret(playground.apiKey));
    const created = await account.create('laptop');
    assert.equal(created.selfHosted, true);
    playground.enqueue(created.id);
    const stats = await account.stats(created.id);
    assert.deepEqual({ ...stats, oldestQueuedAt: typeof stats.oldestQueuedAt }, { depth: 1, pending: 0, workersPolling: 0, oldestQueuedAt: 'string' });
  });

  it('is refused with the API’s words for a wrong key', async () => {
    await assert.rejects(new Account(playground.url, new Secret('sk-ant-api03-wrong-key')).verify(), /invalid x-api-key|401/);
  });
});
