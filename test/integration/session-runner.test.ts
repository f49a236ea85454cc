import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { docker, inspectAll, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

/**
 * Real sessions: the worker runs Outpost's session image (built offline by the test command),
 * whose runner answers a scripted agent's tool calls against /workspace.
 */
describe('the session runner in Outpost’s session image', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  let environmentId: string;
  let environmentKey: string;
  let worker: WorkerProcess;

  before(async () => {
    await docker.getImage('outpost-session:latest').inspect(); // built by scripts/test.sh (outpost image build --offline)
    const url = await playground.start();
    ({ environment: { id: environmentId }, environmentKey } = playground.createEnvironment('sessions'));
    worker = startWorker({
      baseUrl: url,
      environmentId,
      environmentKey,
      // The cold path: a container created and started per item. The image takes a handover (its label),
      // so the item comes on stdin, as to a warm container (warm-pool.test.ts); work-loop.test.ts's images
      // without the label get it in their environment.
      args: ['--max-sessions', '2', '--grace-seconds', '3', '--warm', '0'],
      env: { ANTHROPIC_API_KEY: playground.apiKey },
    });
  });
  after(async () => {
    worker.signal('SIGTERM');
    worker.signal('SIGTERM');
    await worker.exited;
    await playground.close();
  });

  const stopped = (workId: string) => waitFor(`item ${workId} to be stopped`, () => playground.record(workId).item.state === 'stopped', 60_000);

  it('answers a bash call: the tool result says hello, the item is stopped and the container removed', async () => {
    const { sessionId, work } = playground.createSession(environmentId, {
      calls: [{ name: 'bash', input: { command: 'echo hello > /workspace/out.txt && cat /workspace/out.txt' } }],
    });
    await stopped(work.id);
    const results = playground.sessions.results(sessionId);
    assert.equal(results.length, 1);
    assert.equal(results[0]!.text.trim(), 'hello');
    assert.equal(results[0]!.isError, false);
    await waitFor('no container left', async () => (await outpostContainers(worker.installId())).length === 0);
    const log = readFileSync(sessionFiles(worker.dataDir, work.environment_id, work.id).log, 'utf8');
    assert.match(log, /tool bash \d+ ms ok: \S/);
    assert.match(readFileSync(`${sessionFiles(worker.dataDir, work.environment_id, work.id).workspace}/out.txt`, 'utf8'), /hello/);
  });

  it('a tool that writes to $HOME works for the session’s uid (npm, pip and git keep caches there)', async () => {
    const { sessionId, work } = playground.createSession(environmentId, {
      calls: [{ name: 'bash', input: { command: 'mkdir -p "$HOME/.cache/tool" && echo cached > "$HOME/.cache/tool/x" && cat "$HOME/.cache/tool/x" && id -u' } }],
    });
    await stopped(work.id);
    const [result] = playground.sessions.results(sessionId);
    assert.equal(result?.isError, false, result?.text);
    const [cached, uid] = result!.text.trim().split('\n');
    assert.equal(cached, 'cached');
    assert.notEqual(uid, '0', 'and not as root');
  });

  it('write, edit, read, glob and grep each get the right result, in order', async () => {
    const { sessionId, work } = playground.createSession(environmentId, {
      calls: [
        { name: 'write', input: { file_path: '/workspace/notes/plan.md', content: 'step one\nstep two\n' } },
        { name: 'edit', input: { file_path: '/workspace/notes/plan.md', old_string: 'step two', new_string: 'step 2 done' } },
        { name: 'read', input: { file_path: '/workspace/notes/plan.md' } },
        { name: 'glob', input: { pattern: '**/*.md' } },
        { name: 'grep', input: { pattern: 'done' } },
      ],
    });
    await stopped(work.id);
    const results = playground.sessions.results(sessionId);
    assert.deepEqual(results.map((r) => r.name), ['write', 'edit', 'read', 'glob', 'grep']);
    assert.ok(results.every((r) => !r.isError), JSON.stringify(results));
    assert.match(results[2]!.text, /step one[\s\S]*step 2 done/);
    assert.match(results[3]!.text, /notes\/plan\.md/);
    assert.match(results[4]!.text, /plan\.md/);
  });

  it('reconnects when the event stream drops mid-session, and finishes', async () => {
    const { sessionId, work } = playground.createSession(environmentId, {
      calls: [
        { name: 'bash', input: { command: 'echo one' } },
        { name: 'bash', input: { command: 'echo two' } },
        { name: 'bash', input: { command: 'echo three' } },
      ],
      dropStreamAfter: 2,
    });
    await stopped(work.id);
    assert.equal(playground.sessions.streamDrops(sessionId), 1, 'the stream was cut once');
    assert.deepEqual(playground.sessions.results(sessionId).map((r) => r.text.trim()), ['one', 'two', 'three']);
  });

  it('runs no tools for a session already terminated when claimed', async () => {
    const { sessionId, work } = playground.createSession(environmentId, { calls: [{ name: 'bash', input: { command: 'touch /workspace/ran' } }], terminated: true });
    await stopped(work.id);
    assert.deepEqual(playground.sessions.results(sessionId), []);
    assert.match(readFileSync(sessionFiles(worker.dataDir, work.environment_id, work.id).log, 'utf8'), /already terminated; nothing to do/);
  });

  it('heartbeat says stopping during a long bash call: the container stops within the grace period and the item is stopped', async () => {
    const { work } = playground.createSession(environmentId, { calls: [{ name: 'bash', input: { command: 'sleep 600' } }] });
    await waitFor('the bash call to start', () => /serving session/.test(safeRead(sessionFiles(worker.dataDir, work.environment_id, work.id).log)), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const requested = Date.now();
    playground.requestStop(work.id);
    await waitFor('the container to be gone', async () => !(await outpostContainers(worker.installId())).some((c) => c.Labels['outpost.work_id'] === work.id), 15_000, 50);
    assert.ok(Date.now() - requested <= (3 + 1 + 2) * 1000, `stopped in ${Date.now() - requested} ms`);
    await stopped(work.id);
  });

  it('a session the API refuses ends the runner with a one-line reason and the item failed, then stopped', async () => {
    // A work item whose session the control plane does not know: the runner's first call gets a 404.
    const work = playground.enqueue(environmentId, { sessionId: 'sesn_does_not_exist' });
    await stopped(work.id);
    await worker.waitForOutput(new RegExp(`work item ended work_id=${work.id} status=failed reason=exited 1`));
    const log = readFileSync(sessionFiles(worker.dataDir, work.environment_id, work.id).log, 'utf8');
    assert.match(log, /^outpost-session: the API refused: 404 .*session sesn_does_not_exist not found/m);
  });

  it('the session token is handed over on stdin, in neither its container’s environment nor docker inspect; the keys not either; it runs unprivileged', async () => {
    const { work } = playground.createSession(environmentId, {
      calls: [{ name: 'bash', input: { command: 'sleep 3; echo "$(env | grep -c ANTHROPIC_ || true) $(id -u):$(id -g) $(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)"' } }],
    });
    await waitFor('the container to run', async () => (await inspectAll(worker.installId())).some((c) => c.Config.Labels['outpost.work_id'] === work.id), 30_000);
    const token = playground.record(work.id).sessionsToken;
    const info = (await inspectAll(worker.installId())).find((c) => c.Config.Labels['outpost.work_id'] === work.id)!;
    assert.ok(!JSON.stringify(info).includes(token), 'the token is not in docker inspect');
    assert.deepEqual(info.Config.Env.filter((e) => e.startsWith('ANTHROPIC_')), [], 'nor any of the item’s variables');
    // DESIGN §4: Outpost's image too runs its session as the computed unprivileged uid, with no capabilities. Its
    // keeper starts as root with KILL, SETUID and SETGID only, to run the session as that uid (runtime/docker.ts).
    const uid = process.getuid!() === 0 ? '65532:65532' : `${process.getuid!()}:${process.getgid!()}`;
    assert.equal(info.Config.User, '0:0');
    assert.ok(info.Config.Env.includes(`OUTPOST_SESSION_USER=${uid}`));
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(info.HostConfig.CapAdd, ['KILL', 'SETGID', 'SETUID']);
    assert.ok(info.HostConfig.SecurityOpt?.includes('no-new-privileges'));
    const inspected = JSON.stringify(info);
    assert.ok(!inspected.includes(environmentKey) && !inspected.includes(playground.apiKey), 'no key in the container');
    const ps = (await promisify(execFile)('ps', ['-eo', 'args', '--no-headers'], { maxBuffer: 16 << 20 })).stdout;
    assert.ok(!ps.includes(token), 'the token is in no process’s command line');
    assert.ok(!ps.includes(environmentKey), 'the environment key is in no process’s command line');
    await stopped(work.id);
    const [result] = playground.sessions.results(playground.record(work.id).item.data.id);
    assert.equal(result!.text.trim(), `0 ${uid} 0000000000000000`, 'the toolset strips ANTHROPIC_* from the bash tool; the session runs as its uid with no capability');
    const logs = [readFileSync(sessionFiles(worker.dataDir, work.environment_id, work.id).log, 'utf8'), worker.output()];
    for (const text of logs) for (const secret of [token, environmentKey, playground.apiKey]) assert.ok(!text.includes(secret), 'no secret in any log');
  });
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
