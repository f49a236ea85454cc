import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import Anthropic from '@anthropic-ai/sdk';
import { ItemChannel } from '../../electron/core/providers/anthropic/api.js';
import { LeaseKeeper } from '../../electron/core/providers/anthropic/lease.js';
import { AnthropicProvider } from '../../electron/core/providers/anthropic/provider.js';
import type { WorkItem } from '../../electron/core/providers/control-plane.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Secret } from '../../electron/core/secrets/secret.js';
import { aborted } from '../../electron/core/base/timing.js';
import { waitFor } from '../helpers/worker.js';

describe('LeaseKeeper against the playground', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  before(() => playground.start());
  after(() => playground.close());

  /** A claimed, acked item, and the channel its own sessions token speaks on. */
  async function claim(pg = playground): Promise<{ provider: { itemChannel(w: WorkItem): ItemChannel }; work: WorkItem & { hasSessionsToken: boolean } }> {
    const playground = pg;
    const { environment, environmentKey } = playground.createEnvironment('lease');
    playground.enqueue(environment.id);
    const provider = new AnthropicProvider({
      baseURL: playground.url,
      environmentId: environment.id,
      environmentKey: new Secret(environmentKey),
      workerId: 'test-worker',
      logger: silentLogger,
      maxRetries: 0,
    });
    const { work } = await provider.poll(AbortSignal.timeout(5_000));
    assert.ok(work);
    await provider.accept(work, AbortSignal.timeout(5_000));
    const token = playground.record(work.id).sessionsToken;
    const itemChannel = (w: WorkItem) => new ItemChannel(new Anthropic({ baseURL: playground.url, apiKey: null, authToken: token, maxRetries: 0 }), w, silentLogger);
    return { provider: { itemChannel }, work: { ...work, hasSessionsToken: true } };
  }

  it('claims with NO_HEARTBEAT, then echoes the last heartbeat every ttl/2, using the item token', async () => {
    const { provider, work } = await claim();
    const seen: string[] = [];
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger, onBeat: (b) => seen.push(b) });
    await new Promise((r) => setTimeout(r, 2_300));
    await lease.release();
    assert.equal(lease.end, 'released');
    assert.ok(seen.length >= 2 && seen.length <= 4, `beats about every second with a 2 s TTL (saw ${seen.length} in 2.3 s)`);
    assert.equal(new Set(seen).size, seen.length, 'each beat echoed the previous value, so each got a new one');
    const rec = playground.record(work.id);
    assert.equal(rec.heartbeats, seen.length);
    assert.equal(rec.item.state, 'active');
    assert.ok(playground.credentialsSeen.filter((c) => c.route === 'work.heartbeat').every((c) => c.kind === 'item-token'));
  });

  it('a first beat that hangs is cut off after 5 s, not 30: past a lapsed lease it lets the item go, never confirmed ours', async () => {
    const { provider, work } = await claim();
    playground.addFault({ route: 'work.heartbeat', hang: true, count: 1 });
    const started = Date.now();
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
    assert.equal(await lease.confirmed, false);
    assert.equal(lease.end, 'lost');
    assert.ok(Date.now() - started < 8_000, `took ${Date.now() - started} ms`);
  });

  it('a first beat that hangs within the TTL is retried, and the lease is confirmed ours', async () => {
    const roomy = new AnthropicPlayground({ leaseTtlSeconds: 20 });
    await roomy.start();
    try {
      const { provider, work } = await claim(roomy);
      roomy.addFault({ route: 'work.heartbeat', hang: true, count: 1 });
      const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
      assert.equal(await lease.confirmed, true);
      await lease.release();
      assert.equal(roomy.record(work.id).item.state, 'active');
    } finally {
      await roomy.close();
    }
  });

  it('ends with stop-requested when the control plane says stopping', async () => {
    const { provider, work } = await claim();
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
    await new Promise((r) => setTimeout(r, 300));
    playground.requestStop(work.id);
    await aborted(lease.signal);
    assert.equal(lease.end, 'stop-requested');
    assert.equal(lease.lost, false);
  });

  it('ends as lost on a 412 (someone else holds the lease)', async () => {
    const { provider, work } = await claim();
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
    await new Promise((r) => setTimeout(r, 300));
    playground.stealLease(work.id);
    await aborted(lease.signal);
    assert.equal(lease.end, 'lost');
  });

  it('assumes the lease lost when no beat succeeds within the TTL (hung heartbeats are cut off)', async () => {
    const { provider, work } = await claim();
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
    await new Promise((r) => setTimeout(r, 300));
    playground.addFault({ route: 'work.heartbeat', hang: true, count: 100 });
    const started = Date.now();
    await aborted(lease.signal);
    playground.clearFaults();
    assert.equal(lease.end, 'lost');
    assert.match(lease.detail, /no successful heartbeat/);
    assert.ok(Date.now() - started < 5_000, 'gave up after about the TTL, not later');
  });

  it('gives up the item on a permanent 4xx', async () => {
    const { provider, work } = await claim();
    playground.addFault({ route: 'work.heartbeat', status: 404, count: 1 });
    const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger: silentLogger });
    await aborted(lease.signal);
    assert.equal(lease.end, 'rejected');
  });

  it('rides out a 500 without losing the lease', async () => {
    // A roomier TTL (6 s, beats every 3 s): one failed beat must not cost the lease, however busy the machine.
    const roomy = new AnthropicPlayground({ leaseTtlSeconds: 6 });
    await roomy.start();
    try {
      const { provider, work } = await claim(roomy);
      // Every beat's outcome, in order: a beat the playground answered, or one the lease keeper logged as failed.
      // Waiting on this sequence rather than on a count: a count polled every 100 ms can be passed over on a busy machine.
      const beats: Array<'ok' | 'failed' | 'failed-500'> = [];
      const at: number[] = [];
      const logger = {
        ...silentLogger,
        warn: (message: string, fields?: { error?: unknown }) =>
          void (message === 'heartbeat failed; retrying' && (beats.push(String(fields?.error).startsWith('500') ? 'failed-500' : 'failed'), at.push(Date.now()))),
      };
      const lease = new LeaseKeeper({ channel: provider.itemChannel(work), workId: work.id, logger, onBeat: () => (beats.push('ok'), at.push(Date.now())) });
      await waitFor('the first beat', () => beats.length > 0);
      roomy.addFault({ route: 'work.heartbeat', status: 500, count: 1 });
      // The 500, then a successful beat. On a busy machine a beat can also be cut off by its own interval
      // ('failed'), before or after the 500: what matters is that a success follows it and the lease holds.
      const recovered = () => beats.includes('failed-500') && beats.lastIndexOf('ok') > beats.indexOf('failed-500');
      await waitFor('the 500 and a successful beat after it', recovered, 20_000).catch((e: Error) => assert.fail(`${e.message}; beats: ${beats.join(' ')}`));
      assert.equal(lease.end, undefined, `still held (beats: ${beats.join(' ')})`);
      assert.equal(roomy.record(work.id).item.state, 'active');
      // Retried sooner than the 3 s interval: at the interval, the retry would land just as the 6 s lease lapses.
      const failedAt = beats.indexOf('failed-500');
      const retriedAfterMs = at[failedAt + 1]! - at[failedAt]!;
      assert.ok(retriedAfterMs < 2_000, `the beat after the 500 came ${retriedAfterMs} ms later`);
      await lease.release();
    } finally {
      await roomy.close();
    }
  });
});
