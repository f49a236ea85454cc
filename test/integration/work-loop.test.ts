import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildScriptImage, docker, inspectAll, outpostContainers } from '../helpers/docker.js';
import { DockerSocketGate } from '../helpers/docker-proxy.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the work loop against the playground and a real Docker engine', () => {
  // A short TTL: heartbeats every second, lost leases noticed quickly.
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  let url: string;
  const workers: WorkerProcess[] = [];
  const worker = (opts: Omit<Parameters<typeof startWorker>[0], 'baseUrl'>) => {
    const w = startWorker({ baseUrl: url, ...opts });
    workers.push(w);
    return w;
  };

  before(async () => {
    url = await playground.start();
    await buildScriptImage('outpost-test-echo', 'echo "session $ANTHROPIC_SESSION_ID says hello"; echo "a line on stderr" >&2; sleep 2; echo bye');
    await buildScriptImage('outpost-test-quick', 'echo quick; sleep 1');
    // Ignores SIGTERM, so only the grace period's SIGKILL ends it.
    await buildScriptImage('outpost-test-stubborn', "trap 'echo got TERM, ignoring' TERM; echo started; while true; do sleep 1; done");
    await buildScriptImage('outpost-test-sleep', 'echo sleeping; exec sleep 600');
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await playground.close();
  });

  it('claims, acks, heartbeats, runs, force-stops an item and removes its container; the log holds its output', async () => {
    const { environment, environmentKey } = playground.createEnvironment('loop');
    const item = playground.enqueue(environment.id, { sessionId: 'sesn_hello' });
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-echo'] });
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped');
    const rec = playground.record(item.id);
    assert.deepEqual(rec.history, ['queued', 'starting', 'active', 'stopped']);
    assert.ok(rec.heartbeats >= 2, `heartbeated through the run (${rec.heartbeats})`);
    assert.deepEqual(rec.stops.map((s) => s.force), [true]);
    assert.equal(rec.deliveries.length, 1);
    await waitFor('the container to be removed', async () => (await outpostContainers(w.installId())).length === 0);
    await w.waitForOutput(/work item ended .*status=finished reason=exited 0/);
    const log = readFileSync(sessionFiles(w.dataDir, item.environment_id, item.id).log, 'utf8');
    assert.match(log, /session sesn_hello says hello\n/);
    assert.match(log, /a line on stderr\n/);
    assert.match(log, /bye\n/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('with --max-sessions 2 never runs more than 2 containers, and all 3 items finish', async () => {
    const { environment, environmentKey } = playground.createEnvironment('capacity');
    const items = [1, 2, 3].map(() => playground.enqueue(environment.id));
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-echo', '--max-sessions', '2'] });
    let peakContainers = 0;
    let peakLeased = 0;
    await waitFor(
      'all three items to be stopped',
      async () => {
        peakContainers = Math.max(peakContainers, (await outpostContainers(w.installId()).catch(() => [])).length);
        const leased = items.filter((i) => ['starting', 'active'].includes(playground.record(i.id).item.state)).length;
        peakLeased = Math.max(peakLeased, leased);
        return items.every((i) => playground.record(i.id).item.state === 'stopped');
      },
      40_000,
      50,
    );
    assert.equal(peakContainers, 2, 'two ran side by side, never three');
    assert.ok(peakLeased <= 2, `never more than 2 items claimed at once (saw ${peakLeased})`);
    for (const i of items) assert.equal(playground.record(i.id).deliveries.length, 1, 'each item was delivered once');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('heartbeat says stopping mid-run: the container is gone within the grace period and the item is stopped', async () => {
    const { environment, environmentKey } = playground.createEnvironment('stopping');
    const item = playground.enqueue(environment.id);
    const grace = 3;
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-stubborn', '--grace-seconds', String(grace)] });
    await waitFor('the container to run', async () => (await outpostContainers(w.installId())).length === 1);
    await w.waitForOutput(/session running/);
    const requested = Date.now();
    playground.requestStop(item.id);
    await waitFor('the container to be gone', async () => (await outpostContainers(w.installId())).length === 0, 15_000, 50);
    const took = (Date.now() - requested) / 1000;
    // The worker learns of it at its next beat (every ttl/2 = 1 s), then SIGTERM, grace, SIGKILL.
    assert.ok(took <= grace + 1 + 2, `gone ${took.toFixed(1)} s after the stop request`);
    assert.ok(took >= grace, 'the session was given its grace period');
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped');
    assert.match(readFileSync(sessionFiles(w.dataDir, item.environment_id, item.id).log, 'utf8'), /got TERM, ignoring/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a 412 on heartbeat kills the container at once and leaves the item alone', async () => {
    const { environment, environmentKey } = playground.createEnvironment('stolen');
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-stubborn', '--grace-seconds', '10'] });
    await w.waitForOutput(/session running/);
    const stolen = Date.now();
    playground.stealLease(item.id);
    await waitFor('the container to be gone', async () => (await outpostContainers(w.installId())).length === 0, 10_000, 50);
    assert.ok(Date.now() - stolen < 5_000, 'killed, not given the 10 s grace period');
    await w.waitForOutput(/lease lost/);
    await w.waitForOutput(/work item ended .*status=lost/);
    assert.deepEqual(playground.record(item.id).stops, [], 'the worker did not stop an item it no longer holds');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a first heartbeat that hangs while the lease lapses: the item is handed out again, yet never runs in two containers at once', async () => {
    // Found by the chaos soak: the first beat was cut off only after 30 s, the lease lapsed, and the
    // same worker claimed the item again while its first container still ran.
    const { environment, environmentKey } = playground.createEnvironment('first-beat-hangs');
    playground.addFault({ route: 'work.heartbeat', hang: true, count: 1 });
    await buildScriptImage('outpost-test-six', 'echo six seconds; sleep 6; echo done');
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-six'] });
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const mine = (await outpostContainers(w.installId())).filter((c) => c.Labels['outpost.work_id'] === item.id && c.State === 'running');
        most = Math.max(most, mine.length);
        await sleep(50);
      }
    })();
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 45_000);
    watching = false;
    await watch;
    assert.ok(playground.record(item.id).deliveries.length >= 2, 'the lease lapsed and the item was handed out again');
    assert.equal(most, 1, 'one container at a time');
    assert.match(w.output(), /session running/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a poll answered 401 ends the worker with a message naming the environment and a non-zero exit', async () => {
    const { environment } = playground.createEnvironment('wrong-key');
    const w = worker({ environmentId: environment.id, environmentKey: 'sk-ant-env-not-a-real-key-000000' });
    const code = await w.exited;
    assert.equal(code, 2);
    assert.match(w.output(), new RegExp(`environment ${environment.id}: the control plane refused to hand out work \\(401 authentication_error`));
    assert.doesNotMatch(w.output(), /not-a-real-key/, 'the key itself is not echoed');
  });

  it('rides out a burst of 500s and 429s with backoff, then resumes work', async () => {
    const { environment, environmentKey } = playground.createEnvironment('burst');
    playground.addFault({ route: 'work.poll', status: 500, count: 4 });
    playground.addFault({ route: 'work.poll', status: 429, count: 4 });
    const before = playground.requests['work.poll'] ?? 0;
    const started = Date.now();
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    await waitFor('the item to be claimed', () => playground.record(item.id).deliveries.length === 1, 60_000, 10);
    const polls = (playground.requests['work.poll'] ?? 0) - before;
    const seconds = (Date.now() - started) / 1000;
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 20_000);
    // 8 failures: the SDK retries each call twice, the loop backs off 1 s, 2 s, … between calls.
    assert.ok(polls <= 10, `${polls} polls for 8 injected failures: no tight loop`);
    assert.ok(seconds >= 3, `backed off (${seconds.toFixed(1)} s)`);
    assert.match(w.output(), /poll failed; backing off/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a poll the control plane never answers is cut off, and work resumes', async () => {
    const { environment, environmentKey } = playground.createEnvironment('hung');
    playground.addFault({ route: 'work.poll', hang: true, count: 1 });
    const item = playground.enqueue(environment.id);
    const started = Date.now();
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 45_000);
    // The request timeout (15 s), not the SDK's default 10 minutes.
    assert.ok(Date.now() - started < 40_000, `took ${Date.now() - started} ms`);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('malformed poll bodies are logged and survived', async () => {
    const { environment, environmentKey } = playground.createEnvironment('malformed');
    playground.addFault({ route: 'work.poll', malformed: 'json', count: 1 });
    playground.addFault({ route: 'work.poll', malformed: 'shape', count: 1 });
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 40_000);
    assert.match(w.output(), /ignored a malformed poll response/);
    assert.match(w.output(), /poll failed; backing off/);
    assert.equal(w.proc.exitCode, null, 'still running');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a healthcheck item is answered without a container', async () => {
    const { environment, environmentKey } = playground.createEnvironment('health');
    const item = playground.enqueue(environment.id, { type: 'healthcheck' });
    const created: string[] = [];
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['create'] } });
    events.on('data', (d: Buffer) => created.push(d.toString()));
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped');
    await w.waitForOutput(/healthcheck passed/);
    (events as unknown as { destroy(): void }).destroy();
    assert.equal(created.filter((c) => c.includes(w.installId())).length, 0);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  /** Every container-create event of this install, until `stop()` is called. */
  async function watchCreates(installId: () => string) {
    const created: string[] = [];
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['create'] } });
    events.on('data', (d: Buffer) => created.push(d.toString()));
    return {
      stop: () => {
        (events as unknown as { destroy(): void }).destroy();
        return created.filter((c) => c.includes(installId()));
      },
    };
  }

  it('an item for another environment is refused: stopped with a reason, never acked, never run', async () => {
    const { environment, environmentKey } = playground.createEnvironment('served');
    const other = playground.createEnvironment('not-served').environment;
    // A control plane that routes work to the wrong queue: the poll answers an item that says it is the other environment's.
    const item = playground.enqueue(environment.id);
    playground.addFault({ route: 'work.poll', environmentId: other.id, count: 1 });
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    const creates = await watchCreates(w.installId);
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 20_000);
    await w.waitForOutput(new RegExp(`refused work ${item.id}: it is for environment ${other.id}, not ${environment.id}; stopped, not run`));
    await sleep(1_500);
    assert.deepEqual(creates.stop(), [], 'no container was ever created for it');
    const rec = playground.record(item.id);
    assert.deepEqual(rec.history, ['queued', 'stopped']);
    assert.equal(rec.item.acknowledged_at, null, 'never acked');
    assert.deepEqual(rec.stops.map((s) => s.force), [true]);
    assert.equal(rec.deliveries.length, 1, 'not handed out again');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('an item of an unknown type is stopped with a reason, once, and not polled again', async () => {
    const { environment, environmentKey } = playground.createEnvironment('mystery');
    const item = playground.enqueue(environment.id, { type: 'mystery' });
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    const creates = await watchCreates(w.installId);
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 20_000);
    await w.waitForOutput(/work item ended .*reason=unsupported work type mystery; not run/);
    await sleep(6_000); // past the playground's reclaim time (5 s): an item left unstopped would be handed out again
    assert.deepEqual(creates.stop(), [], 'nothing run');
    const rec = playground.record(item.id);
    assert.equal(rec.deliveries.length, 1, 'handed out once');
    assert.deepEqual(rec.stops.map((s) => s.force), [true], 'stopped once');
    assert.doesNotMatch(w.output(), /malformed/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a 429 asking to retry the ack in an hour: the wait is capped and logged, and the item runs', async () => {
    const { environment, environmentKey } = playground.createEnvironment('retry-after');
    const item = playground.enqueue(environment.id);
    playground.addFault({ route: 'work.ack', status: 429, retryAfterSeconds: 3600, count: 1 });
    // The cap is 60 s; the test shortens it rather than wait a minute.
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'], env: { OUTPOST_RETRY_AFTER_CAP_SECONDS: '2' } });
    await w.waitForOutput(/ack failed; retrying in 2 s .*retry_after_seconds=3600 .*capped/);
    const logged = Date.now();
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 15_000);
    assert.ok(Date.now() - logged < 10_000, 'went on after the capped wait');
    assert.deepEqual(playground.record(item.id).history, ['queued', 'starting', 'active', 'stopped']);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a slow-loris poll (headers, then a byte every 2 s) is cut off within the poll timeout, logged, and work resumes', async () => {
    const { environment, environmentKey } = playground.createEnvironment('slow-loris');
    playground.addFault({ route: 'work.poll', trickle: true, count: 1 });
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'] });
    await waitFor('the slow poll to start', () => (playground.requests['work.poll'] ?? 0) > 0, 20_000, 20);
    const started = Date.now();
    await w.waitForOutput(/poll failed; retrying .*timed out/, 10_000);
    assert.ok(Date.now() - started < 8_000, `cut off after ${Date.now() - started} ms (poll timeout 5 s)`);
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 20_000);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('SIGTERM twice during a hung ack, an hour-long Retry-After or a slow-loris poll: exits within seconds, exit 0, no container', async () => {
    for (const mode of ['hung-ack', 'retry-after-ack', 'slow-poll'] as const) {
      const { environment, environmentKey } = playground.createEnvironment(mode);
      const item = playground.enqueue(environment.id);
      if (mode === 'hung-ack') playground.addFault({ route: 'work.ack', hang: true, count: 1 });
      if (mode === 'retry-after-ack') playground.addFault({ route: 'work.ack', status: 429, retryAfterSeconds: 3600, count: 1 });
      if (mode === 'slow-poll') {
        playground.clearFaults();
        playground.addFault({ route: 'work.poll', trickle: true, count: 1 });
      }
      const route = mode === 'slow-poll' ? 'work.poll' : 'work.ack';
      const before = playground.requests[route] ?? 0;
      const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick', '--drain-seconds', '60'] });
      await w.waitForOutput(/worker online/);
      await waitFor(`${mode}: the request to be out`, () => (playground.requests[route] ?? 0) > before, 20_000, 20);
      await sleep(1_000);
      const signalled = Date.now();
      w.signal('SIGTERM');
      await w.waitForOutput(/SIGTERM received:/).catch((e: Error) => assert.fail(`${mode}: ${e.message}`));
      w.signal('SIGTERM');
      assert.equal(await w.exited, 0, `${mode}: exit 0`);
      assert.ok(Date.now() - signalled < 5_000, `${mode}: exited ${Date.now() - signalled} ms after the first signal`);
      assert.equal((await outpostContainers(w.installId())).length, 0, `${mode}: no container left`);
      assert.notEqual(playground.record(item.id).item.state, 'active', `${mode}: nothing left running`);
      playground.clearFaults();
    }
  });

  it('Docker gone while idle: claims nothing, says why, and resumes when Docker is back', async () => {
    const gate = new DockerSocketGate();
    await gate.open();
    const { environment, environmentKey } = playground.createEnvironment('docker-down');
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-quick'], env: { DOCKER_HOST: gate.dockerHost } });
    await w.waitForOutput(/worker online/);
    await sleep(500);
    await gate.close();
    await w.waitForOutput(/Docker is not reachable .*; claiming no work until Docker answers/, 10_000);
    const item = playground.enqueue(environment.id);
    await sleep(4_000);
    assert.equal(playground.record(item.id).deliveries.length, 0, 'nothing claimed while Docker is away');
    await gate.open();
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 30_000);
    assert.match(w.output(), /Docker answers again; claiming work/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    await gate.close();
  });

  it('SIGTERM mid-run drains: a session that ends within the drain period finishes normally', async () => {
    const { environment, environmentKey } = playground.createEnvironment('drain');
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-echo', '--drain-seconds', '30', '--max-sessions', '1'] });
    await w.waitForOutput(/session running/);
    const late = playground.enqueue(environment.id);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    assert.match(w.output(), /work item ended .*status=finished reason=exited 0/);
    assert.deepEqual(playground.record(item.id).history, ['queued', 'starting', 'active', 'stopped']);
    // A poll already in flight may be answered with it; it is left unacked, so the queue hands it out again.
    assert.equal(playground.record(late.id).item.state, 'queued', 'nothing new claimed while draining');
    assert.equal(playground.record(late.id).item.acknowledged_at, null);
    assert.equal((await outpostContainers(w.installId())).length, 0);
  });

  it('SIGTERM mid-run with a short drain, or a second signal, stops the session and leaves no container', async () => {
    for (const mode of ['drain-expires', 'second-signal'] as const) {
      const { environment, environmentKey } = playground.createEnvironment(mode);
      const item = playground.enqueue(environment.id);
      const drain = mode === 'drain-expires' ? '1' : '60';
      const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-sleep', '--drain-seconds', drain, '--grace-seconds', '2'] });
      await w.waitForOutput(/session running/);
      const signalled = Date.now();
      w.signal('SIGTERM');
      if (mode === 'second-signal') {
        await w.waitForOutput(/draining/);
        w.signal('SIGTERM');
      }
      assert.equal(await w.exited, 0);
      assert.ok(Date.now() - signalled < 8_000, `${mode}: exited within drain + grace + a few seconds`);
      assert.equal((await outpostContainers(w.installId())).length, 0, `${mode}: no container left`);
      const rec = playground.record(item.id);
      assert.equal(rec.item.state, 'stopped', `${mode}: item stopped`);
      assert.deepEqual(rec.stops.map((s) => s.force), [true]);
    }
  });

  it('one SIGTERM while the control plane hangs the last stop: exits within drain + grace + 5 s, saying it cut the call off', async () => {
    const { environment, environmentKey } = playground.createEnvironment('hung-last-stop');
    playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-sleep', '--drain-seconds', '1', '--grace-seconds', '1'] });
    await w.waitForOutput(/session running/);
    // Every stop attempt (the first and its retries) hangs: 15 s each, unbounded by the drain before the fix.
    playground.addFault({ route: 'work.stop', hang: true, count: 5 });
    const signalled = Date.now();
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    const took = Date.now() - signalled;
    playground.clearFaults();
    assert.ok(took < 7_000, `exited ${took} ms after one SIGTERM (drain 1 + grace 1 + 5 s)`);
    assert.match(w.output(), /cutting off the control-plane calls still in flight/);
    assert.equal((await outpostContainers(w.installId())).length, 0, 'no container left');
  });

  /** A worker killed with -9 while its session runs, against a playground whose lease (30 s) is still ours when a new worker comes. */
  async function crashMidRun(name: string) {
    const patient = new AnthropicPlayground({ leaseTtlSeconds: 30 });
    const patientUrl = await patient.start();
    const { environment, environmentKey } = patient.createEnvironment(name);
    const item = patient.enqueue(environment.id);
    const first = startWorker({ baseUrl: patientUrl, environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-sleep'] });
    workers.push(first);
    await first.waitForOutput(/session running/);
    first.signal('SIGKILL');
    await first.exited;
    return { patient, patientUrl, environment, environmentKey, item, first };
  }

  it('kill -9 mid-run, then restart: the orphan is removed and its item stopped before the first poll', async () => {
    const { patient, patientUrl, environment, environmentKey, item, first } = await crashMidRun('crash');
    try {
      assert.equal((await outpostContainers(first.installId())).length, 1, 'the container outlived the worker');
      const pollsBefore = patient.requests['work.poll'] ?? 0;
      const second = startWorker({ baseUrl: patientUrl, environmentId: environment.id, environmentKey, dataDir: first.dataDir, args: ['--image', 'outpost-test-sleep'] });
      workers.push(second);
      await second.waitForOutput(/removed a container left by an Outpost that stopped unexpectedly/);
      await second.waitForOutput(/stopped the work item of a container left behind/);
      assert.equal((await outpostContainers(first.installId())).length, 0);
      assert.equal(patient.record(item.id).item.state, 'stopped');
      assert.deepEqual(patient.record(item.id).stops.map((s) => s.force), [true]);
      assert.ok((patient.requests['work.poll'] ?? 0) - pollsBefore <= 1, 'recovery happened before polling');
      // The claim is forgotten right after the line is logged: wait for it rather than race it.
      await waitFor('the claim to be forgotten', () => readdirSync(`${first.dataDir}/leases`).length === 0, 5_000);
      second.signal('SIGTERM');
      assert.equal(await second.exited, 0);
    } finally {
      await patient.close();
    }
  });

  it('kill -9, its container gone before the restart: the claim left behind is recovered and its item stopped', async () => {
    // Found by the chaos soak: a claim record outlived its container and was never swept.
    const { patient, patientUrl, environment, environmentKey, item, first } = await crashMidRun('crash-no-container');
    try {
      for (const c of await outpostContainers(first.installId())) await docker.getContainer(c.Id).remove({ force: true });
      assert.equal(readdirSync(`${first.dataDir}/leases`).length, 1, 'the claim outlived its container');
      const second = startWorker({ baseUrl: patientUrl, environmentId: environment.id, environmentKey, dataDir: first.dataDir, args: ['--image', 'outpost-test-sleep'] });
      workers.push(second);
      await second.waitForOutput(/stopped the work item of a container left behind/);
      assert.equal(patient.record(item.id).item.state, 'stopped');
      await waitFor('the claim to be forgotten', () => readdirSync(`${first.dataDir}/leases`).length === 0, 5_000);
      second.signal('SIGTERM');
      assert.equal(await second.exited, 0);
    } finally {
      await patient.close();
    }
  });

  it('kill -9 of a worker serving env A, restart serving env B on the same data folder: the orphan is removed, the claim left for A', async () => {
    const { patient, patientUrl, environment, environmentKey, item, first } = await crashMidRun('crash-env-a');
    try {
      const b = patient.createEnvironment('crash-env-b');
      const second = startWorker({ baseUrl: patientUrl, environmentId: b.environment.id, environmentKey: b.environmentKey, dataDir: first.dataDir, args: ['--image', 'outpost-test-sleep'] });
      workers.push(second);
      await second.waitForOutput(/removed a container left by an Outpost that stopped unexpectedly/);
      await second.waitForOutput(new RegExp(`left the claim on work ${item.id} for a worker of environment ${environment.id}`));
      assert.equal((await outpostContainers(first.installId())).length, 0, 'the orphan is gone');
      assert.equal(patient.record(item.id).item.state, 'active', 'B holds no key of A: the item is not stopped by B');
      assert.equal(readdirSync(`${first.dataDir}/leases`).length, 1, 'the claim is kept for a worker of A');
      second.signal('SIGTERM');
      assert.equal(await second.exited, 0);
      // A worker of A then stops the item with A's key.
      const third = startWorker({ baseUrl: patientUrl, environmentId: environment.id, environmentKey, dataDir: first.dataDir, args: ['--image', 'outpost-test-sleep'] });
      workers.push(third);
      await third.waitForOutput(/stopped the work item of a container left behind/);
      assert.equal(patient.record(item.id).item.state, 'stopped');
      third.signal('SIGTERM');
      assert.equal(await third.exited, 0);
    } finally {
      await patient.close();
    }
  });

  it('kill -9, then restart after the lease lapsed: the orphan is removed, the item left to the queue and served again', async () => {
    const { environment, environmentKey } = playground.createEnvironment('crash-late');
    const item = playground.enqueue(environment.id);
    const first = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-sleep'] });
    await first.waitForOutput(/session running/);
    first.signal('SIGKILL');
    await first.exited;
    await waitFor('the lease to lapse', () => playground.record(item.id).item.state === 'queued', 10_000);
    const second = worker({ environmentId: environment.id, environmentKey, dataDir: first.dataDir, args: ['--image', 'outpost-test-quick'] });
    await second.waitForOutput(/left a recovered work item alone: its lease has moved on/);
    await waitFor('the item to be served again and stopped', () => playground.record(item.id).item.state === 'stopped', 30_000);
    assert.equal(playground.record(item.id).deliveries.length, 2);
    await second.waitForOutput(/work item ended .*status=finished reason=exited 0/);
    assert.equal((await outpostContainers(first.installId())).length, 0);
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  it('a session that prints its own sessions token leaves [redacted] in its log', async () => {
    await buildScriptImage('outpost-test-leak', 'printf "my token is %s\\n" "$ANTHROPIC_AUTH_TOKEN"; printf "%s" "$ANTHROPIC_AUTH_TOKEN" >&2');
    const { environment, environmentKey } = playground.createEnvironment('leaky');
    const item = playground.enqueue(environment.id);
    const w = worker({ environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-leak'] });
    await w.waitForOutput(/work item ended .*status=finished reason=exited 0/);
    const token = playground.record(item.id).sessionsToken;
    const log = readFileSync(sessionFiles(w.dataDir, item.environment_id, item.id).log, 'utf8');
    assert.match(log, /my token is \[redacted\]\n/);
    assert.ok(!log.includes(token) && !log.includes(token.slice(0, 24)), 'not the token, nor most of it');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('keys stay out of containers, logs and stdout; network mode and limits reach the container', async () => {
    const { environment, environmentKey } = playground.createEnvironment('secrets');
    const item = playground.enqueue(environment.id);
    const w = worker({
      environmentId: environment.id,
      environmentKey,
      args: ['--image', 'outpost-test-sleep', '--cpus', '0.5', '--memory', '96', '--pids', '64', '--log-format', 'json'],
      // An API key in the worker's environment must never be sent or passed on.
      env: { ANTHROPIC_API_KEY: playground.apiKey },
    });
    await w.waitForOutput(/session running/);
    const [info] = await inspectAll(w.installId());
    assert.ok(info);
    const inspected = JSON.stringify(info);
    assert.ok(!inspected.includes(environmentKey), 'environment key not in docker inspect');
    assert.ok(!inspected.includes(playground.apiKey), 'API key not in docker inspect');
    const env = Object.fromEntries(info.Config.Env.map((e) => e.split(/=(.*)/s, 2) as [string, string]));
    assert.equal(env['ANTHROPIC_AUTH_TOKEN'], playground.record(item.id).sessionsToken, 'the item’s own token, and only that');
    assert.deepEqual(
      Object.keys(env).filter((k) => k !== 'PATH').sort(),
      ['ANTHROPIC_AUTH_TOKEN', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_ENVIRONMENT_ID', 'ANTHROPIC_SESSION_ID', 'ANTHROPIC_WORK_ID'],
    );
    assert.ok(!info.HostConfig.Binds?.some((b) => b.includes('docker.sock')), 'no Docker socket');
    assert.equal(info.HostConfig.NetworkMode, 'host');
    assert.equal(info.HostConfig.NanoCpus, 500_000_000);
    assert.equal(info.HostConfig.Memory, 96 * 1024 * 1024);
    assert.equal(info.HostConfig.PidsLimit, 64);
    assert.equal(info.HostConfig.Init, true);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
    assert.equal(info.Config.Labels['outpost.work_id'], item.id);
    assert.equal(info.Config.Labels['outpost.environment_id'], environment.id);
    assert.ok(info.Config.Labels['outpost.instance']);
    w.signal('SIGTERM');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    const stdout = w.output();
    for (const line of stdout.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), `JSON log line: ${line}`);
    const files = [sessionFiles(w.dataDir, item.environment_id, item.id).log];
    for (const secret of [environmentKey, playground.apiKey, playground.record(item.id).sessionsToken]) {
      assert.ok(!stdout.includes(secret), 'no key or token on stdout');
      for (const f of files) assert.ok(!readFileSync(f, 'utf8').includes(secret), `no key or token in ${f}`);
    }
    assert.ok(!playground.credentialsSeen.some((c) => c.kind === 'api-key'), 'the worker never sent the API key');
  });
});
