import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BridgePlayground } from '../../playground/bridge.js';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { BridgeProvider, OUTPUT_CAP_BYTES } from '../../electron/core/providers/bridge.js';
import { AnthropicProvider } from '../../electron/core/providers/anthropic/provider.js';
import { Worker } from '../../electron/core/worker/worker.js';
import { DataPaths, InstanceRecord } from '../../electron/core/store/paths.js';
import { DockerRuntime } from '../../electron/core/runtime/docker.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Secret } from '../../electron/core/secrets/secret.js';
import { Outpost } from '../../electron/core/outpost.js';
import { memorySecrets } from '../helpers/secrets.js';
import { buildScriptImage, docker, inspectAll, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** AINative Bridge environments: the headless worker (--provider ainative) against the Bridge playground and real Docker. */
describe('AINative Bridge environments', () => {
  const bridge = new BridgePlayground({ pollIntervalMs: 300, heartbeatMs: 1_000 });
  let url: string;
  const workers: WorkerProcess[] = [];
  const serve = (environmentId: string, args: string[] = [], token = bridge.token) => {
    const w = startWorker({
      baseUrl: url,
      environmentId,
      environmentKey: token,
      args: ['--provider', 'ainative', '--image', 'outpost-test-base', '--interpreter', 'sh', '--grace-seconds', '1', ...args],
    });
    workers.push(w);
    return w;
  };
  const settled = (workId: string) => waitFor(`work ${workId} to be acked or stopped`, () => ['acknowledged', 'stopped'].includes(bridge.work.get(workId)!.state), 30_000);

  before(async () => {
    url = await bridge.start();
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await bridge.close();
  });

  it('acks a script that prints and exits 3 with exit code 3 and its output', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo "hello from the script"\necho oops >&2\nexit 3\n' });
    const w = serve(env.environment_id);
    await settled(work.work_id);
    const done = bridge.work.get(work.work_id)!;
    assert.equal(done.state, 'acknowledged');
    assert.equal(done.result!['exit_code'], 3);
    assert.equal(done.result!['stdout'], 'hello from the script\n');
    assert.equal(done.result!['stderr'], 'oops\n');
    assert.equal(done.result!['truncated'], false);
    assert.equal(typeof done.result!['duration_ms'], 'number');
    await waitFor('no container left', async () => (await outpostContainers(w.installId())).length === 0);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('caps a flood of output and flags the cut', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: "head -c 3000000 /dev/zero | tr '\\0' a\n" });
    const w = serve(env.environment_id);
    await settled(work.work_id);
    const result = bridge.work.get(work.work_id)!.result!;
    assert.equal(result['exit_code'], 0);
    assert.equal((result['stdout'] as string).length, OUTPUT_CAP_BYTES);
    assert.equal(result['truncated'], true);
    w.signal('SIGTERM');
    await w.exited;
  });

  it('runs a script unprivileged: a non-root uid that owns its 0700 workspace, no capabilities, no-new-privileges', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'id -u; ls -ln /workspace; sleep 2\n' });
    const w = serve(env.environment_id);
    const info = await waitFor('the script’s container', async () => (await inspectAll(w.installId())).find((c) => c.Config.Labels['outpost.work_id'] === work.work_id)!, 30_000, 50);
    const uid = process.getuid!() === 0 ? 65532 : process.getuid!();
    assert.equal(info.Config.User, process.getuid!() === 0 ? '65532:65532' : `${uid}:${process.getgid!()}`);
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.ok(info.HostConfig.SecurityOpt?.includes('no-new-privileges'));
    await settled(work.work_id);
    const result = bridge.work.get(work.work_id)!.result!;
    assert.equal(result['exit_code'], 0);
    assert.match(result['stdout'] as string, new RegExp(`^${uid}\n[\\s\\S]*-rw------- +1 ${uid} `), 'the script file is the session’s, 0600');
    const workspace = sessionFiles(w.dataDir, env.environment_id, work.work_id).workspace;
    assert.equal(statSync(workspace).mode & 0o777, 0o700);
    assert.equal(statSync(workspace).uid, uid);
    w.signal('SIGTERM');
    await w.exited;
  });

  it('a work id handed out again never writes or chowns through a link its first run left in the workspace', async () => {
    // A 0644 file of Outpost's own user (root here) outside the data folder: what a host keeps.
    const victim = join(mkdtempSync(join(tmpdir(), 'outpost-host-')), 'victim.conf');
    writeFileSync(victim, 'the host’s own\n', { mode: 0o644 });
    const env = bridge.createEnvironment();
    // The first run swaps the script Outpost wrote for a link to a host path.
    const first = bridge.enqueue(env.environment_id, 'code_execution', {
      script: `rm -f /workspace/outpost-script\nln -s ${victim} /workspace/outpost-script\n`,
    });
    const w = serve(env.environment_id);
    try {
      await settled(first.work_id);
      assert.equal(bridge.work.get(first.work_id)!.result!['exit_code'], 0);
      w.signal('SIGTERM');
      await w.exited;
      // The same work id again, to a worker on the same data folder (a re-delivery, or a control plane that reuses ids).
      const again = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo second run\n' }, first.work_id);
      const second = startWorker({
        baseUrl: url,
        environmentId: env.environment_id,
        environmentKey: bridge.token,
        dataDir: w.dataDir,
        args: ['--provider', 'ainative', '--image', 'outpost-test-base', '--interpreter', 'sh', '--grace-seconds', '1'],
      });
      workers.push(second);
      await settled(again.work_id);
      second.signal('SIGTERM');
      await second.exited;
      assert.equal(readFileSync(victim, 'utf8'), 'the host’s own\n', 'the host file is not rewritten');
      const stat = statSync(victim);
      assert.equal(stat.uid, process.getuid!(), 'the host file keeps its owner');
      assert.equal(stat.mode & 0o7777, 0o644);
      const done = bridge.work.get(again.work_id)!;
      assert.equal(done.result!['exit_code'], 0, `the second run ran its own script: ${JSON.stringify(done.result)}`);
      assert.equal(done.result!['stdout'], 'second run\n');
    } finally {
      if (w.proc.exitCode === null) w.signal('SIGKILL');
    }
  });

  it('two environments on one data folder that hand out the same work id each get a workspace of their own, and the window finds each', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-two-envs-'));
    const workId = `w-${randomBytes(4).toString('hex')}`;
    const run = async (environmentId: string, script: string) => {
      const work = bridge.enqueue(environmentId, 'code_execution', { script }, workId);
      const w = startWorker({
        baseUrl: url,
        environmentId,
        environmentKey: bridge.token,
        dataDir,
        args: ['--provider', 'ainative', '--image', 'outpost-test-base', '--interpreter', 'sh', '--grace-seconds', '1'],
      });
      workers.push(w);
      await settled(work.work_id);
      w.signal('SIGTERM');
      await w.exited;
      return bridge.work.get(work.work_id)!.result!;
    };
    const a = bridge.createEnvironment();
    const b = bridge.createEnvironment();
    assert.equal((await run(a.environment_id, 'echo secret-of-a > /workspace/kept\necho a done\n'))['exit_code'], 0);
    const seenByB = await run(b.environment_id, 'cat /workspace/kept 2>/dev/null || echo nothing kept\n');
    assert.equal(seenByB['stdout'], 'nothing kept\n', 'environment B’s item ran in a workspace of its own');

    const outpost = Outpost.open({ dataDir, secrets: memorySecrets(), logger: silentLogger });
    try {
      const files = (environmentId: string) => outpost.handle('workspace.list', { environmentId, workId });
      const listA = await files(a.environment_id);
      assert.ok('result' in listA && (listA.result as Array<{ path: string }>).some((f) => f.path === 'kept'), JSON.stringify(listA));
      const listB = await files(b.environment_id);
      assert.ok('result' in listB && !(listB.result as Array<{ path: string }>).some((f) => f.path === 'kept'), JSON.stringify(listB));
      const read = await outpost.handle('workspace.read', { environmentId: a.environment_id, workId, path: 'kept' });
      assert.ok('result' in read && Buffer.from((read.result as { base64: string }).base64, 'base64').toString() === 'secret-of-a\n');
      const lines = async (environmentId: string) => {
        const reply = await outpost.handle('logs.lines', { source: { kind: 'session', environmentId, workId }, from: 0, count: 10 });
        return 'result' in reply ? (reply.result as string[]).join('\n') : JSON.stringify(reply);
      };
      assert.match(await lines(a.environment_id), /a done/);
      assert.match(await lines(b.environment_id), /nothing kept/);
      assert.doesNotMatch(await lines(b.environment_id), /a done/);
      const history = outpost.history.list().filter((h) => h.workId === workId);
      assert.deepEqual(history.map((h) => h.environmentId).sort(), [a.environment_id, b.environment_id].sort(), 'the history keeps both');
    } finally {
      await outpost.dispose();
    }
  });

  it('kills a script that runs past the timeout and stops it with reason "timeout exceeded"', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: "trap '' TERM\nsleep 600\n" });
    const w = serve(env.environment_id, ['--timeout-seconds', '2']);
    await settled(work.work_id);
    assert.equal(bridge.work.get(work.work_id)!.state, 'stopped');
    assert.equal(bridge.work.get(work.work_id)!.stopReason, 'timeout exceeded');
    assert.equal((await outpostContainers(w.installId())).length, 0, 'its container is gone');
    w.signal('SIGTERM');
    await w.exited;
  });

  it('stops unknown work types with a reason and never runs them', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'gpu_training', { epochs: 3 });
    const created: string[] = [];
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['create'] } });
    events.on('data', (d: Buffer) => created.push(d.toString()));
    const w = serve(env.environment_id);
    await settled(work.work_id);
    (events as unknown as { destroy(): void }).destroy();
    assert.equal(bridge.work.get(work.work_id)!.state, 'stopped');
    assert.match(bridge.work.get(work.work_id)!.stopReason ?? '', /unsupported work type gpu_training/);
    assert.equal(created.filter((c) => c.includes(w.installId())).length, 0, 'no container');
    w.signal('SIGTERM');
    await w.exited;
  });

  it('after a missed heartbeat window (disconnected) it reconnects and work resumes', async () => {
    const env = bridge.createEnvironment();
    const w = serve(env.environment_id);
    await w.waitForOutput(/worker online/);
    // Heartbeats fail for longer than the 1 s window: the playground marks the environment disconnected.
    bridge.addFault({ route: 'work.heartbeat', status: 503, count: 4 });
    await waitFor('the environment to be disconnected', () => bridge.environments.get(env.environment_id)!.status === 'disconnected', 10_000, 20);
    await waitFor('a reconnect', () => env.reconnects > 0, 10_000);
    assert.match(w.output(), /the environment was marked disconnected; reconnecting/);
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo resumed\n' });
    await settled(work.work_id);
    assert.equal(bridge.work.get(work.work_id)!.result!['stdout'], 'resumed\n');
    assert.equal(bridge.environments.get(env.environment_id)!.status, 'active');
    w.signal('SIGTERM');
    await w.exited;
  });

  it('honours poll_interval_ms when the queue is empty', async () => {
    const env = bridge.createEnvironment();
    const w = serve(env.environment_id);
    await w.waitForOutput(/worker online/);
    const before = env.polls;
    await new Promise((r) => setTimeout(r, 3_000));
    const polls = env.polls - before;
    // 300 ms apart: about 10 in 3 s; a loop that ignored it would make hundreds.
    assert.ok(polls >= 5 && polls <= 12, `${polls} polls in 3 s`);
    w.signal('SIGTERM');
    await w.exited;
  });

  it('an ack that meets 502 twice is retried with backoff and delivered once', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo delivered\n' });
    bridge.addFault({ route: 'work.ack', status: 502, count: 2 });
    const w = serve(env.environment_id);
    try {
      await settled(work.work_id);
      const done = bridge.work.get(work.work_id)!;
      assert.equal(done.state, 'acknowledged');
      assert.equal(done.result!['stdout'], 'delivered\n');
      assert.equal(done.reports, 1, 'the result is recorded once');
      assert.ok((bridge.requests['work.ack'] ?? 0) >= 3);
      assert.match(w.output(), /could not report the work item’s end; retrying/);
      await waitFor('the pending result removed', () => !existsSync(join(w.dataDir, 'bridge-results', `${work.work_id}.json`)), 5_000);
    } finally {
      bridge.clearFaults();
      w.signal('SIGTERM');
      await w.exited;
    }
  });

  it('a result still pending when the worker is killed -9 is delivered after a restart', async () => {
    const env = bridge.createEnvironment();
    const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo survived\nexit 4\n' });
    bridge.addFault({ route: 'work.ack', status: 502, count: 1_000 });
    const first = serve(env.environment_id);
    const pending = join(first.dataDir, 'bridge-results', `${work.work_id}.json`);
    try {
      await waitFor('the result to wait on disk', () => existsSync(pending), 30_000);
      assert.equal(statSync(pending).mode & 0o777, 0o600);
      first.signal('SIGKILL');
      await first.exited;
    } finally {
      bridge.clearFaults();
    }
    assert.equal(bridge.work.get(work.work_id)!.state, 'in_flight', 'not delivered before the kill');
    const second = startWorker({
      baseUrl: url,
      environmentId: env.environment_id,
      environmentKey: bridge.token,
      dataDir: first.dataDir,
      args: ['--provider', 'ainative', '--image', 'outpost-test-base', '--interpreter', 'sh', '--grace-seconds', '1'],
    });
    workers.push(second);
    await settled(work.work_id);
    const done = bridge.work.get(work.work_id)!;
    assert.equal(done.state, 'acknowledged');
    assert.equal(done.result!['exit_code'], 4);
    assert.equal(done.result!['stdout'], 'survived\n');
    assert.equal(done.reports, 1);
    await waitFor('the pending result removed', () => !existsSync(pending), 5_000);
    second.signal('SIGTERM');
    await second.exited;
  });

  it('an item handed out again while it runs here is neither restarted nor killed', async () => {
    const env = bridge.createEnvironment();
    const created: string[] = [];
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['start'] } });
    events.on('data', (d: Buffer) => created.push(d.toString()));
    bridge.redeliverUnacked = true;
    const w = serve(env.environment_id);
    try {
      const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'sleep 2\necho once\n' });
      await waitFor(`work ${work.work_id} to be acked`, () => bridge.work.get(work.work_id)!.state === 'acknowledged', 15_000);
      const done = bridge.work.get(work.work_id)!;
      assert.ok(done.deliveries > 2, `handed out ${done.deliveries}×`);
      assert.equal(done.result!['stdout'], 'once\n');
      assert.equal(done.result!['exit_code'], 0);
      assert.equal(done.reports, 1, 'acked once');
      assert.equal(created.filter((c) => c.includes(w.installId())).length, 1, 'one container start');
      assert.match(w.output(), /handed out again an item this worker still runs/);
    } finally {
      bridge.redeliverUnacked = false;
      (events as unknown as { destroy(): void }).destroy();
      w.signal('SIGTERM');
      await w.exited;
    }
  });


  it('an answer to a poll sent before an item ended here does not serve it again', async () => {
    const env = bridge.createEnvironment();
    bridge.redeliverUnacked = true;
    // Every poll is answered 400 ms after the server chose the item: the next poll goes out while the first item's end is on its way,
    // and comes back after it landed, still naming the item.
    bridge.addFault({ route: 'work.poll', delayMs: 400, count: 1_000 });
    const w = serve(env.environment_id, ['--max-sessions', '2']);
    try {
      const items = [
        bridge.enqueue(env.environment_id, 'gpu_training', { epochs: 1 }),
        bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo once\n' }),
      ];
      for (const item of items) await settled(item.work_id);
      await new Promise((r) => setTimeout(r, 1_500));
      for (const item of items) {
        const done = bridge.work.get(item.work_id)!;
        assert.equal(done.reports, 1, `${item.type}: reported once (handed out ${done.deliveries}×)`);
        assert.equal((w.output().match(new RegExp(`claimed work work_id=${item.work_id}`, 'g')) ?? []).length, 1, `${item.type}: claimed once`);
      }
    } finally {
      bridge.clearFaults();
      bridge.redeliverUnacked = false;
      w.signal('SIGTERM');
      await w.exited;
    }
  });
  it('a heartbeat answered 200 with status "disconnected" leads to a reconnect', async () => {
    const env = bridge.createEnvironment();
    bridge.quietDisconnect = true;
    const w = serve(env.environment_id);
    try {
      await w.waitForOutput(/worker online/);
      env.status = 'disconnected';
      await waitFor('a reconnect', () => env.reconnects > 0, 10_000);
      // Not env.status: on a loaded machine a late heartbeat can mark it inactive again before the
      // assertion runs. The served item below proves it: a disconnected environment hands out no work.
      assert.match(w.output(), /the environment was marked disconnected; reconnecting/);
      const work = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo back\n' });
      await settled(work.work_id);
      assert.equal(bridge.work.get(work.work_id)!.result!['stdout'], 'back\n');
    } finally {
      bridge.quietDisconnect = false;
      w.signal('SIGTERM');
      await w.exited;
    }
  });

  it('a 401 on the heartbeat names the heartbeat, not the hand-out of work', async () => {
    const env = bridge.createEnvironment();
    const w = serve(env.environment_id);
    await w.waitForOutput(/worker online/);
    bridge.addFault({ route: 'work.heartbeat', status: 401, count: 1_000 });
    try {
      assert.equal(await w.exited, 2);
    } finally {
      bridge.clearFaults();
    }
    assert.match(w.output(), new RegExp(`outpost: environment ${env.environment_id}: .*the environment heartbeat answered 401`));
    assert.doesNotMatch(w.output(), /refused to hand out work/);
  });

  it('a Bridge request that is never answered is cut off within its bound', async () => {
    const env = bridge.createEnvironment();
    const provider = new BridgeProvider({ baseURL: url, environmentId: env.environment_id, token: new Secret(bridge.token), logger: silentLogger, requestTimeoutMs: 500 });
    bridge.addFault({ route: 'work.poll', hang: true, count: 1 });
    const started = Date.now();
    await assert.rejects(provider.poll(new AbortController().signal), /the poll .*did not answer within 0\.5 s/);
    assert.ok(Date.now() - started < 2_000, `cut off after ${Date.now() - started} ms`);
  });

  it('an item’s last report ends with the signal it is given (a stop-now’s 3 s), not the request’s 30 s bound; the result waits on disk', async () => {
    const env = bridge.createEnvironment();
    const resultsDir = mkdtempSync(join(tmpdir(), 'outpost-bridge-results-'));
    const provider = new BridgeProvider({ baseURL: url, environmentId: env.environment_id, token: new Secret(bridge.token), logger: silentLogger, resultsDir });
    const queued = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo hi\n' });
    const { work } = await provider.poll(AbortSignal.timeout(5_000));
    assert.equal(work?.id, queued.work_id);
    await provider.accept(work!);
    bridge.addFault({ route: 'work.ack', hang: true, count: 1 });
    try {
      const started = Date.now();
      await provider.open(work!).finish({ kind: 'exited', exitCode: 0, stdout: 'hi\n', stderr: '', durationMs: 1, truncated: false }, AbortSignal.timeout(300));
      assert.ok(Date.now() - started < 2_000, `finished ${Date.now() - started} ms after a 300 ms signal`);
      assert.ok(readdirSync(resultsDir, { recursive: true }).some((f) => String(f).includes(queued.work_id)), 'the result waits on disk');
    } finally {
      bridge.clearFaults();
    }
  });

  it('a second SIGTERM ends the worker within seconds while an ack hangs, leaving no container and the result on disk', async () => {
    const env = bridge.createEnvironment();
    const running = bridge.enqueue(env.environment_id, 'code_execution', { script: 'sleep 600\n' });
    const hung = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo hung\n' });
    bridge.addFault({ route: 'work.ack', hang: true, count: 1_000 });
    const w = serve(env.environment_id, ['--drain-seconds', '60']);
    try {
      await waitFor('the hung ack', () => (bridge.requests['work.ack'] ?? 0) > 0 && bridge.work.get(running.work_id)!.state === 'in_flight', 30_000);
      await waitFor('the long script’s container', async () => (await outpostContainers(w.installId())).length === 1, 30_000);
      w.signal('SIGTERM');
      await w.waitForOutput(/a second signal stops them now/);
      const second = Date.now();
      w.signal('SIGTERM');
      await w.exited;
      assert.ok(Date.now() - second < 6_000, `exited ${Date.now() - second} ms after the second SIGTERM`);
      assert.equal((await outpostContainers(w.installId())).length, 0, 'no container left');
      assert.ok(existsSync(join(w.dataDir, 'bridge-results', `${hung.work_id}.json`)), 'the hung ack’s result waits on disk');
    } finally {
      bridge.clearFaults();
      if (w.proc.exitCode === null) w.signal('SIGKILL');
    }
  });

  it('lists providers, creates a byoc environment and deletes it', async () => {
    const token = new Secret(bridge.token);
    const created = await BridgeProvider.createEnvironment({ baseURL: url, token });
    assert.equal(created.provider, 'byoc');
    assert.equal(created.status, 'active');
    const provider = new BridgeProvider({ baseURL: url, environmentId: created.environment_id, token, logger: silentLogger });
    assert.deepEqual((await provider.listProviders()).map((p) => p.provider_id), ['ainative', 'byoc']);
    await provider.deleteEnvironment();
    await assert.rejects(provider.poll(AbortSignal.timeout(2_000)), /404: Environment not found/);
  });

  it('the headless command lists providers, creates a byoc environment and deletes it', async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'electron/core/cli/main.ts', 'bridge', ...args, '--base-url', url], {
        cwd: root,
        env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: bridge.token },
      });
    assert.match((await run('providers')).stdout, /^ainative\tAINative Agent Cloud\tus-east-1\tavailable\nbyoc\t/);
    const id = (await run('create')).stdout.trim();
    assert.equal(bridge.environments.get(id)?.provider, 'byoc');
    assert.equal((await run('delete', '--environment-id', id)).stdout.trim(), `deleted ${id}`);
    assert.equal(bridge.environments.get(id)?.status, 'deleted');
    await assert.rejects(run('delete', '--environment-id', id), (e: { code: number; stderr: string }) => e.code === 2 && /404: Environment not found/.test(e.stderr));
  });

  it('401 and 404 end the Bridge worker with a clear message while an Anthropic environment in the same process keeps running', async () => {
    const anthropic = new AnthropicPlayground({ leaseTtlSeconds: 2 });
    await anthropic.start();
    await buildScriptImage('outpost-test-quick', 'echo quick; sleep 1');
    const folder = mkdtempSync(join(tmpdir(), 'outpost-two-'));
    const paths = new DataPaths(folder);
    const instance = new InstanceRecord(paths);
    const common = { runtime: new DockerRuntime(), paths, logger: silentLogger, installId: paths.installId(), instanceId: instance.id, maxSessions: 1 };
    const session = (image: string) => ({ image, networkMode: 'host', limits: {}, graceSeconds: 1 });
    const { environment, environmentKey } = anthropic.createEnvironment('beside-bridge');
    const anthropicWorker = new Worker({
      ...common,
      provider: new AnthropicProvider({ baseURL: anthropic.url, environmentId: environment.id, environmentKey: new Secret(environmentKey), workerId: 'w', logger: silentLogger }),
      session: session('outpost-test-quick'),
    });
    const env = bridge.createEnvironment();
    const wrongToken = new Worker({
      ...common,
      provider: new BridgeProvider({ baseURL: url, environmentId: env.environment_id, token: new Secret('ainative-wrong-token-000'), logger: silentLogger, interpreter: ['sh'] }),
      session: session('outpost-test-base'),
    });
    const unknownEnv = new Worker({
      ...common,
      provider: new BridgeProvider({ baseURL: url, environmentId: 'no-such-environment', token: new Secret(bridge.token), logger: silentLogger, interpreter: ['sh'] }),
      session: session('outpost-test-base'),
    });
    try {
      await Promise.all([anthropicWorker.start(), wrongToken.start(), unknownEnv.start()]);
      await Promise.all([wrongToken.stopped, unknownEnv.stopped]);
      assert.equal(wrongToken.state.status, 'error');
      assert.match(wrongToken.fatalError!.message, new RegExp(`environment ${env.environment_id}: .*401: Missing or invalid bearer token`));
      assert.match(unknownEnv.fatalError!.message, /environment no-such-environment: .*404: Environment not found/);
      const item = anthropic.enqueue(environment.id);
      await waitFor('the Anthropic item to finish', () => anthropic.record(item.id).item.state === 'stopped', 30_000);
      assert.equal(anthropicWorker.state.status, 'online', 'the Anthropic environment is still served');
    } finally {
      await Promise.all([anthropicWorker.stopNow(), wrongToken.stopNow(), unknownEnv.stopNow()]);
      instance.dispose();
      await anthropic.close();
    }
  });
});
