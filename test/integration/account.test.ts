import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Account, AccountError } from '../../electron/core/providers/anthropic/account.js';
import { Secret } from '../../electron/core/secrets/secret.js';
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
    await assert.rejects(new Account(playground.url, new Secret('sk-ant-api03-wrong-key')).verify(), (e) => {
      assert.ok(e instanceof AccountError);
      assert.match(e.message, /^The API refused this key \(401 authentication_error: .*(invalid x-api-key|401)/);
      assert.equal(e.refused, true);
      return true;
    });
  });

  it('says in words where a call went and what the API answered, or that nothing answered', async () => {
    const account = new Account(playground.url, new Secret(playground.apiKey));
    await assert.rejects(account.stats('env_unknown'), (e) => {
      assert.ok(e instanceof AccountError);
      assert.match(e.message, new RegExp(`^The API at ${playground.url} answered 404 not_found_error: `));
      assert.equal(e.refused, false);
      return true;
    });
    // A closed port on loopback: nothing answers.
    const nowhere = 'http://127.0.0.1:9';
    await assert.rejects(new Account(nowhere, new Secret(playground.apiKey)).verify(), new RegExp(`^AccountError: Could not reach ${nowhere} \\(`));
    await assert.rejects(new Account(nowhere, new Secret(playground.apiKey)).environments(false), (e) => e instanceof AccountError && e.message.startsWith(`Could not reach ${nowhere} (`));
  });
});
