import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildHandoverImage, docker, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';

const IMAGE = 'outpost-test-keeper-session';

/**
 * The session's first tool call does all a process of its uid can to keep its container alive past
 * its Outpost: a job in its own session (setsid) opens, for writing, every descriptor of every process
 * it can reach — the runner's stdin among them (`exec 3>/proc/<runner>/fd/0`) — and sleeps holding
 * them. It also says what it could reach of PID 1 (the engine's init, root) and of the keeper.
 */
const HOLD = [
  'R=$PPID',
  `setsid bash -c 'exec 3>>/proc/${'$1'}/fd/0; for f in /proc/[0-9]*/fd/*; do exec {x}>>"$f"; done; exec sleep 600' hold "$R" </dev/null >/dev/null 2>&1 &`,
  'sleep 1',
  'echo "runner $R"',
  'ls /proc/1/fd >/dev/null 2>&1 && echo "pid 1 fds: open" || echo "pid 1 fds: refused"',
  'kill -0 1 2>/dev/null && echo "pid 1 signal: allowed" || echo "pid 1 signal: refused"',
  'K=$(cat /proc/$R/status | sed -n "s/^PPid:[[:space:]]*//p")',
  'ls /proc/$K/fd >/dev/null 2>&1 && echo "keeper fds: open" || echo "keeper fds: refused"',
  'kill -0 $K 2>/dev/null && echo "keeper signal: allowed" || echo "keeper signal: refused"',
].join('\n');

/** After the hold, the agent keeps asking: each call takes 2 s, so one is in flight when the worker dies. */
const KEEP_POSTING = Array.from({ length: 20 }, (_, i) => ({ name: 'bash', input: { command: `sleep 2; echo still serving ${i}` } }));

/**
 * A session outlives no lease: when the Outpost that holds its lease is killed (SIGKILL, never
 * restarted), its container ends within seconds whatever the session did to keep it — the keeper,
 * not the runner (which shares the session's uid), holds the attach's stdin. Real Docker, the real
 * session image (this checkout's keeper and runner), the playground.
 */
describe('a session outlives no lease', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];

  before(async () => {
    await playground.start();
    await buildHandoverImage(IMAGE);
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    // A failed run leaves its containers (no Outpost is left to remove them): removed here, by install.
    for (const w of workers) for (const c of await outpostContainers(w.installId())) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    await playground.close();
  });

  for (const mode of ['warm', 'cold'] as const) {
    it(`${mode}: a session holding its runner's descriptors open ends within seconds of its worker's SIGKILL, and posts nothing after it`, async () => {
      const { environment, environmentKey } = playground.createEnvironment(`keeper-${mode}`);
      const w = startWorker({
        baseUrl: playground.url,
        environmentId: environment.id,
        environmentKey,
        args: ['--image', IMAGE, '--grace-seconds', '1', '--max-sessions', '1', '--warm', mode === 'warm' ? '1' : '0'],
      });
      workers.push(w);
      if (mode === 'warm') await waitFor('a warm container', () => outpostContainers(w.installId()).then((l) => (l.some((c) => c.Labels['outpost.warm'] && c.State === 'running') ? true : null)));
      const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: HOLD } }, ...KEEP_POSTING] });
      await waitFor('the hold in place and the next call under way', () => playground.sessions.results(sessionId).length >= 1 || null, 60_000);
      const [hold] = playground.sessions.results(sessionId);
      assert.equal(hold?.isError, false, hold?.text);
      const serving = (await outpostContainers(w.installId())).find((c) => c.Labels['outpost.work_id'] === work.id || c.Names.some((n) => n.startsWith(`/outpost-${work.id}-`)));
      assert.ok(serving, 'the session’s container');

      w.signal('SIGKILL');
      await w.exited;
      const killedAt = Date.now();
      const ended = await waitFor(
        'the container to end',
        async () => {
          const info: Docker.ContainerInspectInfo = await docker.getContainer(serving.Id).inspect();
          return info.State.Running ? null : info;
        },
        15_000,
      );
      assert.ok(Date.now() - killedAt < 5_000, `within a few seconds (${Date.now() - killedAt} ms)`);
      assert.equal(ended!.State.ExitCode, 70, 'the keeper saw its Outpost go');
      const late = playground.sessions.results(sessionId).filter((r) => r.at > killedAt);
      assert.deepEqual(late.map((r) => r.text), [], 'no tool result after the kill');
      await docker.getContainer(serving.Id).remove({ force: true });
      assert.match(hold!.text, /pid 1 fds: refused/, 'the session cannot open PID 1’s descriptors');
      assert.match(hold!.text, /pid 1 signal: refused/, 'nor signal it');
      assert.match(hold!.text, /keeper fds: refused/, 'nor the keeper’s');
      assert.match(hold!.text, /keeper signal: refused/);
    });
  }
});
