import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildScriptImage, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor } from '../helpers/worker.js';

describe('the work loop against the playground and a real Docker engine', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  let url: string;
  before(async () => {
    url = await playground.start();
    await buildScriptImage('outpost-test-echo', 'echo "session $ANTHROPIC_SESSION_ID says hello"; echo "a line on stderr" >&2; sleep 2; echo bye');
  });
  after(() => playground.close());

  it('claims, acks, heartbeats, runs, force-stops an item and removes its container; the log holds its output', async () => {
    const { environment, environmentKey } = playground.createEnvironment('loop');
    const item = playground.enqueue(environment.id, { sessionId: 'sesn_hello' });
    const worker = startWorker({ baseUrl: url, environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-echo'] });
    try {
      await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped');
      const rec = playground.record(item.id);
      assert.deepEqual(rec.history, ['queued', 'starting', 'active', 'stopped']);
      assert.ok(rec.heartbeats >= 1, 'heartbeated');
      assert.deepEqual(rec.stops.map((s) => s.force), [true]);
      assert.equal(rec.deliveries.length, 1);
      await waitFor('the container to be removed', async () => (await outpostContainers(worker.installId())).length === 0);
      await worker.waitForOutput(/work item ended/);
      const log = readFileSync(`${worker.dataDir}/logs/sessions/${item.id}.log`, 'utf8');
      assert.match(log, /session sesn_hello says hello/);
      assert.match(log, /a line on stderr/);
      assert.match(log, /bye/);
    } finally {
      worker.signal('SIGTERM');
      assert.equal(await worker.exited, 0);
    }
  });
});
