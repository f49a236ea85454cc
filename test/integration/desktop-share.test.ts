import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { BridgePlayground } from '../../playground/bridge.js';
import { docker, outpostContainers } from '../helpers/docker.js';
import { sessionFiles } from '../helpers/session-files.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';

const hasBindfs = (() => {
  try {
    execFileSync('bindfs', ['--version'], { stdio: 'ignore' });
    return existsSync('/dev/fuse');
  } catch {
    return false;
  }
})();
const absent = process.getuid?.() !== 0 ? 'needs root: it mounts a FUSE view and a mount namespace' : hasBindfs ? undefined : 'bindfs or /dev/fuse is missing (scripts/test.sh installs bindfs)';

/** Whether a unix socket at `path` takes a connection: connected, refused, or an error code. */
function knock(path: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => (socket.destroy(), resolve('connected')));
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/**
 * Docker Desktop, OrbStack, Colima, Rancher Desktop: the engine runs in a VM, and sees the user's
 * folders through a file share that carries no unix sockets (docker/for-mac#483). Reproduced here at
 * the same path on both sides, as on a Mac: the engine (this machine's) sees the data folder as a
 * FUSE view of it (bindfs), while the worker runs in a mount namespace of its own where that path is
 * the real folder. So every bind mount Outpost asks for crosses the FUSE view, and a socket the worker
 * makes there cannot be reached from the engine's side — nor from a second Outpost on the view.
 */
describe('a data folder the engine sees only through a file share (Docker Desktop’s VM boundary)', { skip: absent }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];
  const mounts: string[] = [];
  let apiOnlyServer: Server | undefined;

  /** A data folder: the real one, and the same path as the engine sees it (a FUSE view of the real one). */
  function sharedFolder(): { real: string; path: string } {
    const real = mkdtempSync(join(tmpdir(), 'outpost-share-real-'));
    const path = mkdtempSync(join(tmpdir(), 'outpost-share-'));
    // Root mounts it for every uid, as Desktop's share serves a container's every user.
    execFileSync('bindfs', ['-o', 'allow_other', real, path]);
    mounts.push(path);
    return { real, path };
  }

  /** The worker as it runs on a Mac: its data folder the real one, at the path the engine sees through the share. */
  function workerBehindShare(folder: { real: string; path: string }, opts: Parameters<typeof startWorker>[0]): WorkerProcess {
    const w = startWorker({
      ...opts,
      dataDir: folder.path,
      prefix: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && shift 2 && exec "$@"', 'sh', folder.real, folder.path],
    });
    workers.push(w);
    return w;
  }

  before(async () => {
    await playground.start();
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    for (const w of workers) for (const c of await outpostContainers(w.installId()).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    for (const path of mounts) execFileSync('umount', ['-l', path], { stdio: 'ignore' });
    for (const path of mounts) rmSync(path, { recursive: true, force: true });
    apiOnlyServer?.close();
    await playground.close();
  });

  it('first, the boundary itself: a socket in the real folder connects there, and is refused through the view', async () => {
    const folder = sharedFolder();
    const server = createServer().listen(join(folder.real, 'probe.sock'));
    await new Promise((r) => server.once('listening', r));
    try {
      assert.equal(await knock(join(folder.real, 'probe.sock')), 'connected');
      assert.ok(existsSync(join(folder.path, 'probe.sock')), 'the view shows the socket file');
      assert.equal(await knock(join(folder.path, 'probe.sock')), 'ECONNREFUSED');
    } finally {
      server.close();
    }
  });

  for (const egress of ['api', 'allowlist', 'open'] as const) {
    for (const warm of [false, true]) {
      it(`${egress}, ${warm ? 'warm' : 'cold'}: a session is served end to end, its workspace kept, its connections in its log`, async () => {
        const folder = sharedFolder();
        const { environment, environmentKey } = playground.createEnvironment(`share-${egress}-${warm ? 'warm' : 'cold'}`);
        const w = workerBehindShare(folder, {
          baseUrl: playground.url,
          environmentId: environment.id,
          environmentKey,
          args: [...(egress === 'open' ? ['--network', 'host'] : ['--egress', egress]), '--warm', warm ? '1' : '0', '--max-sessions', '2'],
        });
        await w.waitForOutput(/worker online/, 60_000);
        const { sessionId, work } = playground.createSession(environment.id, {
          calls: [
            { name: 'bash', input: { command: 'echo shared > /workspace/made-here.txt; ls /workspace; id -u' } },
            { name: 'bash', input: { command: 'cat /workspace/made-here.txt' } },
          ],
        });
        await w.waitForOutput(new RegExp(`work item ended work_id=${work.id} `), 90_000);
        const files = sessionFiles(folder.real, environment.id, work.id);
        const log = readFileSync(files.log, 'utf8');
        assert.match(w.output(), new RegExp(`work item ended work_id=${work.id} status=finished`), log);
        const results = playground.sessions.results(sessionId).map((r) => r.text.trim());
        assert.match(results[0]!, /made-here\.txt/);
        assert.equal(results[1], 'shared', 'the session reads back what it wrote through the share');
        if (warm) assert.match(w.output(), new RegExp(`session running work_id=${work.id} .*warm=true`), 'served by the warm container');
        assert.equal(readFileSync(join(files.workspace, 'made-here.txt'), 'utf8'), 'shared\n', 'what the session left is in the real folder, under the item’s name');
        if (egress !== 'open') assert.match(log, /\[egress\] allowed CONNECT 127\.0\.0\.1:\d+ \(api\)/, 'the runner’s own calls, through the sidecar’s attach stream');
        assert.doesNotMatch(log, /\[egress\] refused/, 'no connection the user never caused (a warm runner’s rehearsal stays in its container)');
        w.signal('SIGTERM');
        assert.equal(await w.exited, 0);
        assert.deepEqual(await outpostContainers(w.installId()), [], 'nothing left running');
      });
    }
  }

  it('none: a Bridge script runs in a workspace the engine reaches through the share', async () => {
    const bridge = new BridgePlayground({ pollIntervalMs: 200, heartbeatMs: 5_000 });
    await bridge.start();
    try {
      const folder = sharedFolder();
      const { environment_id: id } = bridge.createEnvironment('byoc');
      const w = workerBehindShare(folder, {
        baseUrl: bridge.url,
        environmentId: id,
        environmentKey: bridge.token,
        args: ['--provider', 'ainative', '--image', 'outpost-test-base', '--interpreter', 'sh', '--egress', 'none'],
      });
      const work = bridge.enqueue(id, 'code_execution', { script: 'echo from-the-script > /workspace/out.txt; cat /workspace/out.txt' });
      await waitFor('the script to be acked', () => bridge.work.get(work.work_id)!.state === 'acknowledged', 60_000);
      assert.match(String(bridge.work.get(work.work_id)!.result!['stdout']), /from-the-script/);
      w.signal('SIGTERM');
      assert.equal(await w.exited, 0);
    } finally {
      await bridge.close();
    }
  });

  it('two Outposts on one data folder, one behind the share: neither takes the other for dead; killed, the first is swept once its record is stale', async () => {
    const folder = sharedFolder();
    const { environment, environmentKey } = playground.createEnvironment('share-two');
    // The first sees the real folder; the second sees the view (its instance sockets refuse there, live or not).
    const first = workerBehindShare(folder, { baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--network', 'host', '--warm', '0'] });
    await first.waitForOutput(/worker online/, 30_000);
    const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 6; echo survived' } }] });
    await waitFor(`the first to run ${work.id}`, () => new RegExp(`session running work_id=${work.id}`).test(first.output()), 30_000);
    const second = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, dataDir: folder.path, args: ['--network', 'host', '--warm', '0'] });
    workers.push(second);
    await second.waitForOutput(/worker online/, 30_000);
    await waitFor(`${work.id} to be stopped`, () => playground.record(work.id).item.state === 'stopped', 60_000);
    assert.equal(playground.sessions.results(sessionId)[0]?.text.trim(), 'survived', `the first’s session ran to its end, untouched:\n${first.output()}\n---\n${second.output()}`);
    assert.doesNotMatch(second.output(), /left by an Outpost that stopped unexpectedly/);
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0);

    // Now the first dies mid-session, and leaves its container.
    const next = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 60' } }] });
    await waitFor(`the first to run ${next.work.id}`, () => new RegExp(`session running work_id=${next.work.id}`).test(first.output()), 30_000);
    first.signal('SIGKILL');
    await first.exited;
    // A third Outpost behind the view sweeps it only once the record has gone stale (30 s untouched).
    const killedAt = Date.now();
    const third = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, dataDir: folder.path, args: ['--network', 'host', '--warm', '0'] });
    workers.push(third);
    await third.waitForOutput(/removed a container left by an Outpost that stopped unexpectedly/, 90_000);
    assert.ok(Date.now() - killedAt >= 20_000, 'not before the record was stale');
    const left = new RegExp(`session running work_id=${next.work.id} .*container=([0-9a-f]{12})`).exec(first.output())![1]!;
    assert.match(third.output(), new RegExp(`removed a container left by an Outpost that stopped unexpectedly .*container=${left}`));
    await waitFor('the first’s container gone', async () => !(await outpostContainers(third.installId())).some((c) => c.Id.startsWith(left)), 30_000);
    third.signal('SIGTERM');
    assert.equal(await third.exited, 0);
  });
});
