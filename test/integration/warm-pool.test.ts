import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { environmentProfileSchema, type EnvironmentProfile } from '../../shared/contract.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { DockerRuntime } from '../../electron/core/runtime/docker.js';
import { sessionUser } from '../../electron/core/runtime/workspace.js';
import { HANDOVER_KEEPER, HANDOVER_LABEL, KEEPER_ENTRYPOINT } from '../../electron/core/runtime/labels.js';
import { buildDockerfile, buildHandoverImage, docker, inspectAll, outpostContainers } from '../helpers/docker.js';
import { memorySecrets } from '../helpers/secrets.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

const run = promisify(execFile);
const IMAGE = 'outpost-test-warm-session';

/** The warm containers of an install: started before any item, labelled outpost.warm. */
async function warmContainers(installId: string): Promise<Docker.ContainerInfo[]> {
  return (await outpostContainers(installId)).filter((c) => c.Labels['outpost.warm'] && c.State === 'running');
}

/**
 * The warm pool: a container started and waiting, holding no credential, handed its item
 * over stdin once the lease is confirmed. Real Docker, the real session runner, the playground.
 */
describe('warm containers', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];
  const opened: Outpost[] = [];
  const worker = (environmentId: string, environmentKey: string, args: string[], dataDir?: string) => {
    const w = startWorker({ baseUrl: playground.url, environmentId, environmentKey, args: ['--image', IMAGE, '--grace-seconds', '1', ...args], ...(dataDir ? { dataDir } : {}) });
    workers.push(w);
    return w;
  };
  const stopped = (workId: string) => waitFor(`item ${workId} to be stopped`, () => playground.record(workId).item.state === 'stopped', 60_000);

  before(async () => {
    await playground.start();
    await buildHandoverImage(IMAGE);
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await playground.close();
  });

  it('waits holding no credential (docker inspect, /proc/1/environ), then serves a session end to end through the same container', async () => {
    const { environment, environmentKey } = playground.createEnvironment('warm');
    const w = worker(environment.id, environmentKey, ['--max-sessions', '1', '--warm', '1']);
    const [warm] = (await waitFor('a warm container', () => warmContainers(w.installId()).then((l) => (l.length ? l : null))))!;
    const info = await docker.getContainer(warm!.Id).inspect();
    assert.deepEqual(info.Config.Env.filter((e) => /ANTHROPIC|sk-ant/.test(e)), [], 'no item, no token in its environment');
    assert.equal(info.Config.Labels['outpost.work_id'], undefined);
    const { stdout: pid1 } = await run('docker', ['exec', warm!.Id, 'cat', '/proc/1/environ']);
    assert.doesNotMatch(pid1, /ANTHROPIC|sk-ant/);
    assert.doesNotMatch(JSON.stringify(info), new RegExp(environmentKey));

    const { sessionId, work } = playground.createSession(environment.id, {
      calls: [{ name: 'bash', input: { command: 'cat /proc/1/environ /proc/self/environ | tr "\\0" "\\n"; echo served' } }],
    });
    await stopped(work.id);
    const [result] = playground.sessions.results(sessionId);
    assert.equal(result?.isError, false, result?.text);
    assert.match(result!.text, /served$/);
    const token = playground.record(work.id).sessionsToken;
    assert.ok(!result!.text.includes(token), 'the token is in no environment inside the container');
    assert.doesNotMatch(result!.text, /ANTHROPIC_AUTH_TOKEN/);
    await w.waitForOutput(new RegExp(`session running work_id=${work.id} .*container=${warm!.Id.slice(0, 12)} warm=true`));
    // The item's workspace and log are its own, under its id; the warm ones are gone.
    assert.ok(existsSync(sessionFiles(w.dataDir, work.environment_id, work.id).log));
    assert.deepEqual(readdirSync(sessionFiles(w.dataDir, work.environment_id, work.id).workspace), [], 'the runner’s rehearsal left nothing in the workspace');
    assert.doesNotMatch(readFileSync(sessionFiles(w.dataDir, work.environment_id, work.id).log, 'utf8'), /warm.up|sesn_warm/, 'nor in the log');
    await waitFor('the pool to refill with a new container', () => warmContainers(w.installId()).then((l) => l.length === 1 && l[0]!.Id !== warm!.Id));
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    assert.deepEqual(await outpostContainers(w.installId()), [], 'shutdown leaves no warm container');
    assert.deepEqual(readdirSync(join(w.dataDir, 'workspaces')).filter((n) => n.includes('warm-')), [], 'nor its workspace');
  });

  it('the runner refuses a hostile handover on stdin in one line: names it may not take, bytes that never bring a frame, no frame at all', async () => {
    // Its stdin stays open, as Outpost's attach does: the keeper ends the container when it closes.
    const runner = (input: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn('docker', ['run', '--rm', '-i', '--network', 'none', '--label', 'outpost.test=warm-handover', IMAGE], { stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
        child.stdin.on('error', () => {}).write(input);
        if (!input) child.stdin.end();
      });
    // Framed as Outpost frames it (runtime/handover-frame.ts), but holding what Outpost never sends.
    const framed = (json: string) => `\nOUTPOST-HANDOVER v1 ${Buffer.byteLength(json)} ${createHash('sha256').update(json).digest('hex')}\n${json}\n`;
    const smuggled = await runner(framed(JSON.stringify({ ANTHROPIC_SESSION_ID: 'sesn_1', ANTHROPIC_AUTH_TOKEN: 'sk-ant-x', NODE_OPTIONS: '--require /tmp/evil.js' })));
    assert.equal(smuggled.code, 1);
    assert.equal(smuggled.stderr, 'outpost-session: the handover holds a name or value it may not\n');
    const notAString = await runner(framed(JSON.stringify({ ANTHROPIC_SESSION_ID: { toString: 'x' } })));
    assert.equal(notAString.stderr, 'outpost-session: the handover holds a name or value it may not\n');
    const endless = await runner('a'.repeat(200 * 1024));
    assert.equal(endless.stderr, 'outpost-session: no handover came within the first 64 KiB: whoever writes here is not Outpost\n');
    const nothing = await runner('');
    assert.equal(nothing.code, 70, 'stdin closed with no frame: the keeper ends the container');
    assert.match(nothing.stderr, /stdin closed: whoever served this container is gone; ending it here/);
    const garbage = await runner(framed('[1,2]'));
    assert.equal(garbage.stderr, 'outpost-session: the handover is not a JSON object\n');
    const unframed = await runner(`${JSON.stringify({ ANTHROPIC_SESSION_ID: 'sesn_1' })}\n${'x'.repeat(64 * 1024)}`);
    assert.equal(unframed.stderr, 'outpost-session: no handover came within the first 64 KiB: whoever writes here is not Outpost\n', 'a bare line is no frame');
  });

  it('with the pool off (--warm 0) a session is served cold, its item handed over on stdin: no token in docker inspect or /proc/1/environ', async () => {
    const { environment, environmentKey } = playground.createEnvironment('cold');
    // A profile variable (as with --env, which keeps a pool from warming) stays in the environment.
    const w = worker(environment.id, environmentKey, ['--warm', '0', '--env', 'PROFILE_VAR=kept']);
    const { sessionId, work } = playground.createSession(environment.id, {
      calls: [{ name: 'bash', input: { command: 'sleep 2; cat /proc/1/environ /proc/self/environ | tr "\\0" "\\n"; echo cold' } }],
    });
    const info = (await waitFor('the cold session container', () =>
      inspectAll(w.installId()).then((l) => l.find((c) => c.Config.Labels['outpost.work_id'] === work.id) ?? null),
    ))!;
    const token = playground.record(work.id).sessionsToken;
    assert.deepEqual(info.Config.Env.filter((e) => /ANTHROPIC|sk-ant/.test(e)), [], 'no item variable in its environment');
    assert.ok(info.Config.Env.includes('PROFILE_VAR=kept'), 'the profile’s variables are');
    assert.ok(!JSON.stringify(info).includes(token), 'the token is nowhere in docker inspect');
    assert.equal(info.Config.OpenStdin, true);
    assert.equal(info.Config.StdinOnce, true, 'stdin closes with Outpost’s attach');
    const { stdout: pid1 } = await run('docker', ['exec', info.Id, 'cat', '/proc/1/environ']);
    assert.ok(!pid1.includes(token));
    assert.doesNotMatch(pid1, /ANTHROPIC/);
    await stopped(work.id);
    const [result] = playground.sessions.results(sessionId);
    assert.equal(result?.isError, false, result?.text);
    assert.match(result!.text, /cold$/, 'served end to end');
    assert.match(result!.text, /^PROFILE_VAR=kept$/m);
    assert.ok(!result!.text.includes(token), 'the token is in no environment inside the container');
    assert.doesNotMatch(w.output(), /warm=true/);
    assert.deepEqual(await warmContainers(w.installId()), []);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    assert.deepEqual(await outpostContainers(w.installId()), []);
  });

  it('a cold container that ends before it reads its handover: the item fails in words, nothing is left running', async () => {
    const tag = 'outpost-test-handover-gone';
    // Its entrypoint stands where the keeper would (labels.ts takesHandover) and ends at once.
    await buildDockerfile(
      tag,
      [
        'FROM outpost-test-base:latest',
        `RUN mkdir -p /opt/outpost && printf '#!/bin/sh\\nexit 3\\n' > ${KEEPER_ENTRYPOINT} && chmod 755 ${KEEPER_ENTRYPOINT}`,
        `LABEL ${HANDOVER_LABEL}=${HANDOVER_KEEPER}`,
        `ENTRYPOINT ["${KEEPER_ENTRYPOINT}"]`,
        '',
      ].join('\n'),
    );
    const { environment, environmentKey } = playground.createEnvironment('gone');
    const w = worker(environment.id, environmentKey, ['--image', tag, '--warm', '0']);
    const item = playground.enqueue(environment.id);
    await stopped(item.id);
    // Two honest outcomes of one race: the line went into the pipe before the runner ended (it exits 3
    // without reading it), or Docker had already closed the attach (the handover fails, in words).
    await w.waitForOutput(new RegExp(`work item ended work_id=${item.id} status=failed reason=(exited 3|the session container did not take its item on stdin.*the container was removed)`));
    assert.deepEqual(await outpostContainers(w.installId()), [], 'no container left');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    // The second outcome, without the race: a handover to a container already ended fails in words, never hangs.
    const dir = mkdtempSync(join(tmpdir(), 'outpost-handover-gone-'));
    const ended = await new DockerRuntime().startWarm({
      image: tag, name: `outpost-test-handover-gone-${Date.now()}`, labels: { 'outpost.test': 'handover-gone' }, workspaceDir: join(dir, 'workspace'),
      user: sessionUser(false), logFile: join(dir, 'log'), networkMode: 'none', limits: {},
    });
    assert.equal(await ended.exited, 3);
    await assert.rejects(ended.handOver({ ANTHROPIC_SESSION_ID: 'sesn_x' }), /its stdin is closed/);
    await ended.remove();
  });

  it('--max-sessions 2 --warm 1 never runs more than 2 containers, and every session is served', async () => {
    const { environment, environmentKey } = playground.createEnvironment('capacity');
    const w = worker(environment.id, environmentKey, ['--max-sessions', '2', '--warm', '1']);
    await waitFor('a warm container', () => warmContainers(w.installId()).then((l) => l.length === 1));
    const sessions = [1, 2, 3, 4].map(() => playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 1; echo done' } }] }));
    let peak = 0;
    await waitFor(
      'every session to be stopped',
      async () => {
        peak = Math.max(peak, (await outpostContainers(w.installId()).catch(() => [])).length);
        return sessions.every((s) => playground.record(s.work.id).item.state === 'stopped');
      },
      90_000,
      25,
    );
    assert.ok(peak <= 2, `never more than 2 containers (saw ${peak})`);
    for (const s of sessions) assert.equal(playground.sessions.results(s.sessionId)[0]?.text.trim(), 'done');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('pause, sleep, stop and a profile change each discard the warm container; resume and wake warm one again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-warm-'));
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger: silentLogger });
    opened.push(outpost);
    const installId = outpost.paths.installId();
    const { environment, environmentKey } = playground.createEnvironment('lifecycle');
    await secrets.set({ kind: 'environment-key', environmentId: environment.id }, environmentKey, playground.url);
    const profile = (memoryMb: number): EnvironmentProfile =>
      environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, image: IMAGE, networkMode: 'host', graceSeconds: 1, memoryMb, warm: 1 });
    const warmOne = async () => (await waitFor('a warm container', () => warmContainers(installId).then((l) => (l.length === 1 ? l[0]! : null))))!;
    const none = (what: string) => waitFor(`no container after ${what}`, async () => (await outpostContainers(installId)).length === 0);

    await outpost.serve(profile(512));
    await warmOne();
    outpost.pauseWorker();
    await none('pause');
    outpost.resumeWorker();
    await warmOne();
    outpost.sleep();
    await none('sleep');
    await outpost.wake();
    const before = await warmOne();
    await outpost.stopWorker('drain');
    assert.deepEqual(await outpostContainers(installId), [], 'stop: gone before the worker says it stopped');

    // A profile change applies when the worker next starts: the new warm container has the new limits.
    await outpost.serve(profile(768));
    const after = await warmOne();
    assert.notEqual(after.Id, before.Id);
    const [inspected] = await inspectAll(installId);
    assert.equal(inspected?.HostConfig.Memory, 768 * 2 ** 20);
    await outpost.dispose();
    assert.deepEqual(await outpostContainers(installId), [], 'shutdown: gone');
  });

  it('a warm container that died before the claim is not used: the pool is empty, the session starts cold', async () => {
    const { environment, environmentKey } = playground.createEnvironment('died');
    const w = worker(environment.id, environmentKey, ['--max-sessions', '1']);
    const [dead] = (await waitFor('a warm container', () => warmContainers(w.installId()).then((l) => (l.length ? l : null))))!;
    await docker.getContainer(dead!.Id).kill();
    await w.waitForOutput(/a warm container ended on its own/);
    const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo still served' } }] });
    await stopped(work.id);
    assert.equal(playground.sessions.results(sessionId)[0]?.text.trim(), 'still served');
    assert.doesNotMatch(w.output(), new RegExp(`container=${dead!.Id.slice(0, 12)} warm=true`));
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('an image rebuilt under the same tag: the container of the old one is discarded, the session runs on the new one', async () => {
    const { environment, environmentKey } = playground.createEnvironment('rebuilt');
    const tag = 'outpost-test-warm-rebuilt';
    await buildHandoverImage(tag);
    const w = worker(environment.id, environmentKey, ['--image', tag, '--max-sessions', '1']);
    const [old] = (await waitFor('a warm container', () => warmContainers(w.installId()).then((l) => (l.length ? l : null))))!;
    const build = `rebuilt-${Date.now()}`;
    await run('sh', ['-c', `printf 'FROM ${tag}\\nUSER 0\\nRUN echo ${build} > /etc/outpost-build\\nUSER 1000:1000\\n' | docker build -q -t ${tag} -`]);
    const rebuilt = (await docker.getImage(tag).inspect()).Id;
    assert.notEqual(old!.ImageID, rebuilt);
    await w.waitForOutput(/image outpost-test-warm-rebuilt changed; discarding the warm containers of the old one/);
    const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'cat /etc/outpost-build' } }] });
    await stopped(work.id);
    assert.equal(playground.sessions.results(sessionId)[0]?.text.trim(), build, 'served by the new image');
    assert.doesNotMatch(w.output(), new RegExp(`container=${old!.Id.slice(0, 12)}`), 'the old image’s container served nothing');
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('kill -9 mid-session and never restarted: the session it handed over ends itself, so the item is not served twice once its lease lapses', async () => {
    const { environment, environmentKey } = playground.createEnvironment('orphan');
    const w = worker(environment.id, environmentKey, ['--max-sessions', '1', '--warm', '1']);
    await waitFor('a warm container', () => warmContainers(w.installId()).then((l) => (l.length ? l : null)));
    const { work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 600' } }] });
    const [serving] = (await waitFor('the session served by the warm container', () =>
      outpostContainers(w.installId()).then((l) => {
        const named = l.filter((c) => c.Names.some((n) => n.startsWith(`/outpost-${work.id}-`)) && c.State === 'running');
        return named.length ? named : null;
      }),
    ))!;
    await waitFor('the tool call under way', () => playground.record(work.id).item.state === 'active');
    w.signal('SIGKILL');
    await w.exited;
    const ended = await waitFor('the orphaned session to end itself', async () => {
      const info = await docker.getContainer(serving!.Id).inspect();
      return info.State.Running ? null : info;
    }, 15_000);
    assert.equal(ended!.State.ExitCode, 70, 'the keeper saw its Outpost go');
    await docker.getContainer(serving!.Id).remove({ force: true });
  });

  it('kill -9 of a cold session’s worker, never restarted: the session ends itself too (its stdin closed with the attach)', async () => {
    const { environment, environmentKey } = playground.createEnvironment('orphan-cold');
    const w = worker(environment.id, environmentKey, ['--max-sessions', '1', '--warm', '0']);
    const { work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 600' } }] });
    const [serving] = (await waitFor('the cold session container', () =>
      outpostContainers(w.installId()).then((l) => {
        const running = l.filter((c) => c.Labels['outpost.work_id'] === work.id && c.State === 'running');
        return running.length ? running : null;
      }),
    ))!;
    await waitFor('the tool call under way', () => playground.record(work.id).item.state === 'active');
    w.signal('SIGKILL');
    await w.exited;
    const killedAt = Date.now();
    const ended = await waitFor('the orphaned cold session to end itself', async () => {
      const info = await docker.getContainer(serving!.Id).inspect();
      return info.State.Running ? null : info;
    }, 15_000);
    assert.equal(ended!.State.ExitCode, 70, 'the keeper saw its Outpost go');
    assert.ok(Date.now() - killedAt < 5_000, `within a few seconds (${Date.now() - killedAt} ms)`);
    await docker.getContainer(serving!.Id).remove({ force: true });
  });

  it('kill -9, then a restart: the stale warm container and its files are removed before the first poll', async () => {
    const { environment, environmentKey } = playground.createEnvironment('stale');
    const first = worker(environment.id, environmentKey, ['--max-sessions', '1']);
    const [stale] = (await waitFor('a warm container', () => warmContainers(first.installId()).then((l) => (l.length ? l : null))))!;
    first.signal('SIGKILL');
    await first.exited;
    const staleName = stale!.Labels['outpost.warm']!;
    assert.ok(existsSync(sessionFiles(first.dataDir, environment.id, staleName).workspace), 'the dead worker left its warm workspace');

    const second = worker(environment.id, environmentKey, ['--max-sessions', '1'], first.dataDir);
    await second.waitForOutput(/removed a warm container left by an Outpost that stopped unexpectedly/);
    const ids = (await waitFor('a new warm container', () => warmContainers(second.installId()).then((l) => (l.length ? l.map((c) => c.Id) : null))))!;
    assert.ok(!ids.includes(stale!.Id));
    assert.ok(!(await outpostContainers(second.installId())).some((c) => c.Id === stale!.Id), 'the stale one is gone');
    assert.ok(!existsSync(sessionFiles(first.dataDir, environment.id, staleName).workspace), 'and its workspace');
    const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo after' } }] });
    await stopped(work.id);
    assert.equal(playground.sessions.results(sessionId)[0]?.text.trim(), 'after');
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0);
  });
});
