import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildScriptImage, docker, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

/**
 * Two workers on one data folder — the desktop app and a headless worker, or one process per
 * environment. One dies with kill -9 and is restarted: its startup recovery must clean up what
 * it left, and never recover, force-stop or delete what the other, live one holds.
 */
describe('two workers sharing a data folder', () => {
  // A patient lease (30 s): the killed worker's item is still ours when the restart recovers it.
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 30 });
  let url: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    url = await playground.start();
    await buildScriptImage('outpost-test-sleep', 'echo sleeping; exec sleep 600');
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    // A test that failed midway leaves its sessions running: remove them, they sleep for 10 minutes.
    for (const installId of new Set(workers.map((w) => w.installId()))) {
      for (const c of await outpostContainers(installId)) await docker.getContainer(c.Id).remove({ force: true });
    }
    await playground.close();
  });

  const worker = (environmentId: string, environmentKey: string, dataDir: string) => {
    const w = startWorker({ baseUrl: url, environmentId, environmentKey, dataDir, args: ['--image', 'outpost-test-sleep', '--max-sessions', '1', '--drain-seconds', '0', '--grace-seconds', '1'] });
    workers.push(w);
    return w;
  };
  const claimFile = (dataDir: string, item: { environment_id: string; id: string }) => sessionFiles(dataDir, item.environment_id, item.id).claim;
  const containerOf = async (installId: string, workId: string) =>
    (await outpostContainers(installId)).find((c) => c.Labels['outpost.work_id'] === workId);

  for (const layout of ['two environments', 'one environment'] as const) {
    it(`${layout}: kill -9 one, restart it — its own item is recovered, the other's is untouched and keeps its lease`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'outpost-shared-'));
      const envA = playground.createEnvironment(`shared-a-${layout}`);
      const envB = layout === 'two environments' ? playground.createEnvironment(`shared-b-${layout}`) : envA;

      const crashing = worker(envA.environment.id, envA.environmentKey, dataDir);
      const mine = playground.enqueue(envA.environment.id);
      await crashing.waitForOutput(/session running/);
      // With --max-sessions 1 the first worker is full and polls no more: the second item goes to the second worker.
      const surviving = worker(envB.environment.id, envB.environmentKey, dataDir);
      const theirs = playground.enqueue(envB.environment.id);
      // A brisk lease for the survivor (beats every 3 s), so that its heartbeats are seen going on.
      playground.record(theirs.id).ttlSeconds = 6;
      await surviving.waitForOutput(/session running/);
      const installId = crashing.installId();
      assert.equal(surviving.installId(), installId, 'one data folder, one install');
      const theirContainer = await containerOf(installId, theirs.id);
      assert.ok(theirContainer && (await containerOf(installId, mine.id)), 'both sessions run');
      const theirClaim = readFileSync(claimFile(dataDir, theirs), 'utf8');
      assert.ok(JSON.parse(theirClaim).instanceId, 'the claim names the process that holds it');

      crashing.signal('SIGKILL');
      await crashing.exited;
      const polls = playground.requests['work.poll'] ?? 0;
      const restarted = worker(envA.environment.id, envA.environmentKey, dataDir);
      await restarted.waitForOutput(/stopped the work item of a container left behind/);
      // Recovery is over once the restarted worker polls (the survivor is full and polls no more).
      await waitFor('the restarted worker to poll', () => (playground.requests['work.poll'] ?? 0) > polls);

      // What the killed worker left: its container removed, its item stopped, its claim forgotten.
      assert.equal(await containerOf(installId, mine.id), undefined);
      assert.equal(playground.record(mine.id).item.state, 'stopped');
      assert.deepEqual(playground.record(mine.id).stops.map((s) => s.force), [true]);
      assert.equal(existsSync(claimFile(dataDir, mine)), false);

      // What the live worker holds: untouched, and still heartbeating.
      const beatsAfterRecovery = playground.record(theirs.id).heartbeats;
      const container = await docker.getContainer(theirContainer.Id).inspect();
      assert.equal(container.State.Running, true, "the other worker's container still runs");
      assert.ok(existsSync(claimFile(dataDir, theirs)), "the other worker's claim is still there");
      assert.equal(JSON.parse(readFileSync(claimFile(dataDir, theirs), 'utf8')).instanceId, JSON.parse(theirClaim).instanceId);
      assert.deepEqual(playground.record(theirs.id).stops, [], "the other worker's item was not stopped");
      assert.equal(playground.record(theirs.id).item.state, 'active');
      assert.doesNotMatch(restarted.output(), new RegExp(theirs.id));
      await waitFor('the other worker to heartbeat on', () => playground.record(theirs.id).heartbeats >= beatsAfterRecovery + 2, 15_000);
      assert.equal(playground.record(theirs.id).item.state, 'active');

      for (const w of [restarted, surviving]) w.signal('SIGTERM');
      assert.deepEqual(await Promise.all([restarted.exited, surviving.exited]), [0, 0]);
      assert.equal(playground.record(theirs.id).item.state, 'stopped', 'stopped by its own worker on the way out');
      assert.equal((await outpostContainers(installId)).length, 0);
    });
  }
});
