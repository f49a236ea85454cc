import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { environmentProfileSchema, historyEntrySchema } from '../../shared/contract.js';
import type { WorkerState } from '../../shared/states.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { memorySecrets } from '../helpers/secrets.js';
import { buildScriptImage } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

const DAY_MS = 24 * 60 * 60 * 1000;


/** A session's log and workspace, as the worker leaves them, last touched `ageDays` ago. */
function agedSessionFiles(dataDir: string, environmentId: string, workId: string, ageDays: number): { log: string; workspace: string } {
  const { log, workspace } = sessionFiles(dataDir, environmentId, workId);
  mkdirSync(workspace, { recursive: true });
  writeFileSync(join(workspace, 'out.txt'), 'result\n');
  if (!existsSync(log)) writeFileSync(log, 'a session log\n');
  const then = new Date(Date.now() - ageDays * DAY_MS);
  for (const path of [log, workspace]) utimesSync(path, then, then);
  return { log, workspace };
}

describe('one Outpost per process: the composition root every head opens', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  const opened: Outpost[] = [];
  const workers: WorkerProcess[] = [];

  before(async () => {
    await playground.start();
    await buildScriptImage('outpost-test-quick', 'echo quick; sleep 1');
    await buildScriptImage('outpost-test-sleep', 'echo sleeping; exec sleep 600');
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await playground.close();
  });

  async function serving(image: string, opts: { retentionCheckMs?: number } = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-root-'));
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger: silentLogger, ...opts });
    opened.push(outpost);
    const states: WorkerState[] = [];
    outpost.events.on((e) => e.name === 'worker-state' && states.push(e.payload));
    const { environment, environmentKey } = playground.createEnvironment('root');
    await secrets.set({ kind: 'environment-key', environmentId: environment.id }, environmentKey, playground.url);
    await outpost.serve(environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, image, networkMode: 'host', graceSeconds: 1 }));
    return { outpost, dataDir, environment, states };
  }

  it('says it is starting, and what it is doing, until the first claim can happen; then online', async () => {
    const { outpost, states } = await serving('outpost-test-quick');
    await waitFor('online', () => outpost.workerState.status === 'online');
    const online = states.findIndex((s) => s.status === 'online');
    assert.equal(states[0]?.status, 'starting');
    const details = states.slice(0, online).flatMap((s) => (s.status === 'starting' && s.detail ? [s.detail] : []));
    assert.ok(details.some((d) => /earlier Outpost/.test(d)), `startup recovery named while starting: ${JSON.stringify(details)}`);
    assert.ok(states.slice(0, online).every((s) => s.status === 'starting'), 'nothing but starting before online');
    await outpost.stopWorker('now');
    assert.equal(outpost.workerState.status, 'off');
  });

  it('the machine going to sleep shows in the state; waking clears it', async () => {
    const { outpost } = await serving('outpost-test-quick');
    await waitFor('online', () => outpost.workerState.status === 'online');
    outpost.sleep();
    assert.deepEqual(outpost.workerState, { status: 'online', active: 0, blockedBy: 'asleep' });
    await outpost.wake();
    await waitFor('claiming again', () => outpost.workerState.status === 'online' && !('blockedBy' in outpost.workerState && outpost.workerState.blockedBy));
    await outpost.stopWorker('now');
  });

  it('retention runs while the worker runs: old logs and workspaces go, recent ones and a running session’s stay', async () => {
    const { outpost, dataDir, environment } = await serving('outpost-test-sleep', { retentionCheckMs: 200 });
    const item = playground.enqueue(environment.id);
    await waitFor('the session to run', () => outpost.items.some((i) => i.status === 'running'), 30_000);
    // Files older than the 14-day retention: one of a session long gone, and those of the session still running.
    const old = agedSessionFiles(dataDir, environment.id, 'work_old', 30);
    const running = agedSessionFiles(dataDir, environment.id, item.id, 30);
    const recent = agedSessionFiles(dataDir, environment.id, 'work_recent', 1);
    await waitFor('the old session’s files to be removed', () => !existsSync(old.log) && !existsSync(old.workspace), 5_000);
    assert.ok(existsSync(recent.log) && existsSync(recent.workspace), 'a recent session’s files stay');
    assert.ok(existsSync(running.log) && existsSync(running.workspace), 'a running session’s files stay, however old');
    await outpost.stopWorker('now');
  });

  it('headless `outpost worker` keeps the history and runs retention, as the desktop app does', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-headless-'));
    mkdirSync(join(dataDir, 'logs', 'sessions'), { recursive: true });
    const { environment, environmentKey } = playground.createEnvironment('headless');
    const old = agedSessionFiles(dataDir, environment.id, 'work_old', 30);
    const item = playground.enqueue(environment.id);
    const w = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, dataDir, args: ['--image', 'outpost-test-quick'] });
    workers.push(w);
    await w.waitForOutput(/work item ended .*status=finished reason=exited 0/, 30_000);
    assert.ok(!existsSync(old.log) && !existsSync(old.workspace), 'the old session’s files were removed');
    const history = readFileSync(join(dataDir, 'history.jsonl'), 'utf8').trim().split('\n').map((line) => historyEntrySchema.parse(JSON.parse(line)));
    assert.deepEqual(history.map((h) => [h.workId, h.status, h.reason]), [[item.id, 'finished', 'exited 0']]);
    assert.match(readFileSync(join(dataDir, 'logs', 'outpost.log'), 'utf8'), /removed the logs and workspaces of 1 session older/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });
});
