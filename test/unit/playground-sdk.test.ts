import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { sessionsTokenFromSecret } from '@anthropic-ai/sdk/lib/environments/worker';
import { AnthropicPlayground } from '../../playground/anthropic.js';

/** The official SDK, unchanged, against the playground: the playground is only useful if this holds. */
describe('the official SDK against the playground', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 1 });
  let api: Anthropic;
  before(async () => {
    const url = await playground.start();
    api = new Anthropic({ baseURL: url, apiKey: playground.apiKey, maxRetries: 0 });
  });
  after(() => playground.close());

  const worker = (key: string) => new Anthropic({ baseURL: playground.url, apiKey: null, authToken: key, maxRetries: 0 });

  it('creates, lists (every cursor page, archived behind a flag), updates, archives and deletes environments', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await api.beta.environments.create({ name: `env-${i}`, config: { type: 'self_hosted' } }));
    assert.equal(created[0]!.config.type, 'self_hosted');
    await api.beta.environments.archive(created[1]!.id);
    const names = async (include_archived: boolean) => {
      const seen: string[] = [];
      for await (const env of api.beta.environments.list({ limit: 2, include_archived })) if (env.name.startsWith('env-')) seen.push(env.name);
      return seen.sort();
    };
    assert.deepEqual(await names(false), ['env-0', 'env-2', 'env-3', 'env-4']);
    assert.deepEqual(await names(true), ['env-0', 'env-1', 'env-2', 'env-3', 'env-4']);
    const updated = await api.beta.environments.update(created[0]!.id, { name: 'renamed' });
    assert.equal(updated.name, 'renamed');
    assert.equal((await api.beta.environments.retrieve(created[0]!.id)).name, 'renamed');
    await api.beta.environments.delete(created[4]!.id);
    await assert.rejects(api.beta.environments.retrieve(created[4]!.id), Anthropic.NotFoundError);
  });

  it('answers a wrong key with 401 and accepts the API key as x-api-key too (seed 001)', async () => {
    const wrong = new Anthropic({ baseURL: playground.url, apiKey: 'sk-ant-api03-wrong-wrong-wrong', maxRetries: 0 });
    await assert.rejects(wrong.beta.environments.list(), Anthropic.AuthenticationError);
    const res = await fetch(`${playground.url}/v1/environments`, {
      headers: { 'x-api-key': playground.apiKey, 'anthropic-version': '2023-06-01' },
    });
    assert.equal(res.status, 200);
  });

  it('runs the work lifecycle: poll with a secret, ack, heartbeat lease with 412 on a stale value, stop, 409 after', async () => {
    const { environment, environmentKey } = playground.createEnvironment('work');
    const queued = playground.enqueue(environment.id, { sessionId: 'sesn_x' });
    const env = worker(environmentKey);
    const stats = await env.beta.environments.work.stats(environment.id);
    assert.equal(stats.depth, 1);

    const work = await env.beta.environments.work.poll(environment.id, { block_ms: 999, 'Anthropic-Worker-ID': 'w1' });
    assert.equal(work?.id, queued.id);
    const token = sessionsTokenFromSecret(work!.secret);
    assert.ok(token, 'the secret carries a sessions token');
    assert.equal((await env.beta.environments.work.stats(environment.id)).pending, 1);
    assert.equal((await env.beta.environments.work.stats(environment.id)).workers_polling, 1);

    const item = worker(token!);
    const acked = await item.beta.environments.work.ack(work!.id, { environment_id: environment.id });
    assert.equal(acked.state, 'starting');
    const first = await item.beta.environments.work.heartbeat(work!.id, { environment_id: environment.id, expected_last_heartbeat: 'NO_HEARTBEAT' });
    assert.equal(first.state, 'active');
    assert.equal(first.lease_extended, true);
    const second = await item.beta.environments.work.heartbeat(work!.id, { environment_id: environment.id, expected_last_heartbeat: first.last_heartbeat });
    assert.notEqual(second.last_heartbeat, first.last_heartbeat);
    const stale = await item.beta.environments.work
      .heartbeat(work!.id, { environment_id: environment.id, expected_last_heartbeat: first.last_heartbeat })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(stale instanceof Anthropic.APIError && stale.status === 412);
    const details = (stale.error as { error: { details: { error_code: string; current_state: { last_heartbeat: string } } } }).error.details;
    assert.equal(details.error_code, 'heartbeat_precondition_failed');
    assert.equal(details.current_state.last_heartbeat, second.last_heartbeat);

    const stopped = await item.beta.environments.work.stop(work!.id, { environment_id: environment.id, force: true });
    assert.equal(stopped.state, 'stopped');
    const again = await item.beta.environments.work.stop(work!.id, { environment_id: environment.id, force: true }).then(() => undefined, (e: unknown) => e);
    assert.ok(again instanceof Anthropic.APIError && again.status === 409);

    const listed = [];
    for await (const w of env.beta.environments.work.list(environment.id, { limit: 1 })) listed.push(w.id);
    assert.deepEqual(listed, [queued.id]);
  });

  it('hands an unacknowledged item out again after reclaim_older_than_ms, and requeues a lapsed lease', async () => {
    const { environment, environmentKey } = playground.createEnvironment('reclaim');
    playground.enqueue(environment.id);
    const env = worker(environmentKey);
    const first = await env.beta.environments.work.poll(environment.id, { reclaim_older_than_ms: 200 });
    assert.ok(first);
    assert.equal(await env.beta.environments.work.poll(environment.id, { reclaim_older_than_ms: 200 }), null, 'pending, not handed out twice');
    await new Promise((r) => setTimeout(r, 250));
    const again = await env.beta.environments.work.poll(environment.id, { reclaim_older_than_ms: 200 });
    assert.equal(again?.id, first.id);

    await env.beta.environments.work.ack(first.id, { environment_id: environment.id });
    await env.beta.environments.work.heartbeat(first.id, { environment_id: environment.id, expected_last_heartbeat: 'NO_HEARTBEAT' });
    // TTL 1 s and no further beats: the lease lapses and the item is queued for the next worker.
    await new Promise((r) => setTimeout(r, 1_400));
    assert.equal(playground.record(first.id).item.state, 'queued');
    const reclaimed = await env.beta.environments.work.poll(environment.id, { block_ms: 999 });
    assert.equal(reclaimed?.id, first.id);
  });

  it('rejects what the API rejects: block_ms out of range, an environment key for another environment, a poll with the item token', async () => {
    const a = playground.createEnvironment('a');
    const b = playground.createEnvironment('b');
    const env = worker(a.environmentKey);
    await assert.rejects(env.beta.environments.work.poll(a.environment.id, { block_ms: 5000 }), Anthropic.BadRequestError);
    await assert.rejects(env.beta.environments.work.poll(b.environment.id), Anthropic.PermissionDeniedError);
  });

  it("the SDK's own WorkPoller claims, acks and stops items against it", async () => {
    const { environment, environmentKey } = playground.createEnvironment('sdk-poller');
    const queued = [playground.enqueue(environment.id), playground.enqueue(environment.id)];
    const seen: string[] = [];
    const poller = new Anthropic({ baseURL: playground.url, apiKey: null, maxRetries: 0 }).beta.environments.work.poller({
      environmentId: environment.id,
      environmentKey,
      drain: true,
    });
    for await (const work of poller) seen.push(work.id);
    assert.deepEqual(seen, queued.map((q) => q.id));
    for (const q of queued) assert.deepEqual(playground.record(q.id).history, ['queued', 'starting', 'stopped']);
  });
});
