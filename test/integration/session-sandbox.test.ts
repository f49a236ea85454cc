import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { BridgePlayground } from '../../playground/bridge.js';
import { environmentProfileSchema, type ServiceEvent } from '../../shared/contract.js';
import { createLogger } from '../../electron/core/logs/log.js';
import { originOf } from '../../electron/core/secrets/key-origins.js';
import { Outpost } from '../../electron/core/outpost.js';
import { UNPRIVILEGED_UID } from '../../electron/core/runtime/workspace.js';
import { buildScriptImage, docker, inspectAll } from '../helpers/docker.js';
import { memorySecrets } from '../helpers/secrets.js';
import { desktopUser, startWorker, waitFor } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

/** Every entry under `root`, symlinks not followed. */
function walk(root: string): Array<{ path: string; stat: Stats }> {
  const out: Array<{ path: string; stat: Stats }> = [];
  const visit = (path: string) => {
    const stat = lstatSync(path);
    out.push({ path, stat });
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return out;
}

/** What the host must never hold after a session: a device node, a setuid or setgid file, a fifo or socket, anything world-writable. */
function dangerous(root: string): string[] {
  return walk(root).flatMap(({ path, stat }) => {
    const problems: string[] = [];
    if (stat.isCharacterDevice() || stat.isBlockDevice()) problems.push('device node');
    // Outpost's own sockets are no session's doing: an instance's liveness socket (paths.ts), an egress proxy's.
    const outpostOwn = [join(root, 'instances'), join(root, 'egress')].some((folder) => path.startsWith(`${folder}/`));
    if ((stat.isFIFO() || stat.isSocket()) && !outpostOwn) problems.push('fifo or socket');
    if (stat.mode & 0o6000) problems.push(`setuid/setgid, owner ${stat.uid}`);
    if (!stat.isSymbolicLink() && stat.mode & 0o002) problems.push('world-writable');
    return problems.map((p) => `${path}: ${p}`);
  });
}

/** The session's sandbox as docker inspect shows it (DESIGN §4). */
function assertSandboxed(info: Docker.ContainerInspectInfo, user: string): void {
  assert.equal(info.Config.User, user, 'Config.User');
  assert.deepEqual(info.HostConfig.CapDrop, ['ALL'], 'HostConfig.CapDrop');
  assert.ok(info.HostConfig.SecurityOpt?.includes('no-new-privileges'), `SecurityOpt ${JSON.stringify(info.HostConfig.SecurityOpt)}`);
}

// Every step a hostile session would try in its workspace; each may fail, the script goes on.
const HOSTILE =
  'cd /workspace; id -u > uid; touch f; chown 0:0 f; chmod 4755 f; chmod 6755 f; mknod d c 1 3; mknod b b 7 0; mkfifo p; ' +
  'mkdir open; chmod 0777 open; chmod 0777 .; ls -ln > listing; sleep 3; echo done';

const sessionUser = process.getuid!() === 0 ? `${UNPRIVILEGED_UID}:${UNPRIVILEGED_UID}` : `${process.getuid!()}:${process.getgid!()}`;

describe('the session sandbox: a hostile session and hostile ids leave the host as they found it', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 2 });
  const bridge = new BridgePlayground({ pollIntervalMs: 200, heartbeatMs: 5_000 });
  const opened: Outpost[] = [];

  before(async () => {
    await playground.start();
    await bridge.start();
    await buildScriptImage('outpost-test-hostile', HOSTILE);
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    await playground.close();
    await bridge.close();
  });

  async function open(profile: Record<string, unknown>, key: string) {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-sandbox-'));
    const lines: string[] = [];
    const logger = createLogger({ format: 'text', sink: { write: (line) => void lines.push(line) } });
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger });
    opened.push(outpost);
    const events: ServiceEvent[] = [];
    outpost.events.on((e) => void events.push(e));
    const parsed = environmentProfileSchema.parse({ networkMode: 'host', graceSeconds: 1, ...profile });
    await secrets.set({ kind: 'environment-key', environmentId: parsed.environmentId }, key, originOf(parsed.baseUrl));
    await outpost.serve(parsed);
    return { outpost, dataDir, lines, events };
  }

  async function hostileSession(extra: Record<string, unknown> = {}) {
    const { environment, environmentKey } = playground.createEnvironment('hostile');
    const opened = await open({ environmentId: environment.id, baseUrl: playground.url, image: 'outpost-test-hostile', ...extra }, environmentKey);
    const item = playground.enqueue(environment.id);
    const installId = readFileSync(join(opened.dataDir, 'install-id'), 'utf8').trim();
    const info: Docker.ContainerInspectInfo = await waitFor(
      'the hostile session’s container',
      async () => (await inspectAll(installId)).find((c) => c.Config.Labels['outpost.work_id'] === item.id)!,
      30_000,
      50,
    );
    await waitFor('the session to end', () => opened.outpost.history.list().some((h) => h.workId === item.id), 30_000);
    const workspace = sessionFiles(opened.dataDir, environment.id, item.id).workspace;
    return { ...opened, item, info, workspace };
  }

  it('a session in a root image runs as an unprivileged uid with no capabilities; nothing it tried leaves a device node or a setuid file', async () => {
    const { outpost, dataDir, info, workspace } = await hostileSession();
    assertSandboxed(info, sessionUser);
    assert.equal(readFileSync(join(workspace, 'uid'), 'utf8').trim(), sessionUser.split(':')[0], 'the session saw itself as that uid');
    assert.ok(existsSync(join(workspace, 'f')), 'the session could write its workspace');
    assert.equal(lstatSync(join(workspace, 'f')).uid, Number(sessionUser.split(':')[0]), 'its files are the session uid’s, not root’s');
    assert.equal(lstatSync(workspace).mode & 0o777, 0o700, 'the workspace is the session’s alone');
    assert.deepEqual(dangerous(dataDir), []);
    await outpost.stopWorker('now');
  });

  it('allowRoot runs the session as root, says so in the window and the log, and still leaves no device node or setuid file', async () => {
    const { outpost, dataDir, info, workspace, lines, events } = await hostileSession({ allowRoot: true });
    assertSandboxed(info, '0:0');
    assert.ok(!((info.HostConfig.CapAdd ?? []) as string[]).some((c) => /MKNOD|SYS_|SETFCAP|NET_/.test(c)), `CapAdd ${JSON.stringify(info.HostConfig.CapAdd)}`);
    assert.equal(readFileSync(join(workspace, 'uid'), 'utf8').trim(), '0');
    assert.ok(
      events.some((e) => e.name === 'notice' && e.payload.level === 'warning' && /run as root/.test(e.payload.message)),
      'a warning notice for the window',
    );
    assert.ok(lines.some((l) => /WARN.*this session runs as root/i.test(l)), `the log warns at the session's start:\n${lines.join('')}`);
    // As root with CHOWN and FOWNER it could make a setuid-root file; the pass after the session defused it.
    assert.match(readFileSync(join(workspace, 'listing'), 'utf8'), /^-rws/m, 'the session did make a setuid file');
    assert.deepEqual(dangerous(dataDir), []);
    await outpost.stopWorker('now');
  });

  it('allowRoot on an Outpost that is not root: what the root session left is defused through the engine, and the user’s to remove', async (t) => {
    if (process.getuid!() !== 0) return t.skip('needs root to make a desktop user in the docker group');
    const user = desktopUser();
    const { environment, environmentKey } = playground.createEnvironment('root-on-a-laptop');
    const w = startWorker({
      baseUrl: playground.url,
      environmentId: environment.id,
      environmentKey,
      args: ['--image', 'outpost-test-hostile', '--allow-root', '--grace-seconds', '1'],
      user,
    });
    try {
      await w.waitForOutput(/worker online/, 60_000);
      const item = playground.enqueue(environment.id);
      await w.waitForOutput(new RegExp(`work item ended[^\\n]*${item.id}`), 60_000);
      const workspace = sessionFiles(w.dataDir, environment.id, item.id).workspace;
      assert.equal(readFileSync(join(workspace, 'uid'), 'utf8').trim(), '0', 'the session ran as root');
      assert.match(readFileSync(join(workspace, 'listing'), 'utf8'), /^-rws.* 0 +0 /m, 'the session did make a setuid-root file');
      assert.deepEqual(dangerous(workspace), []);
      const notTheirs = walk(workspace).filter(({ stat }) => stat.uid !== user.uid);
      assert.deepEqual(notTheirs.map((e) => `${e.path}: uid ${e.stat.uid}`), [], 'the user can remove every file the session left');
      assert.doesNotMatch(w.output(), /could not defuse/);
    } finally {
      w.signal('SIGTERM');
      await w.exited;
    }
  });

  it('a Bridge item whose id is ".." is never run, is stopped with a reason, and leaves the data folder untouched', async () => {
    const env = bridge.createEnvironment();
    const { outpost, dataDir } = await open(
      { environmentId: env.environment_id, provider: 'ainative', baseUrl: bridge.url, image: 'outpost-test-base', interpreter: ['sh'] },
      bridge.token,
    );
    const before = new Map(walk(dataDir).map(({ path, stat }) => [path, stat.mode]));
    const created: string[] = [];
    const events = await docker.getEvents({ filters: { type: ['container'], event: ['create'] } });
    events.on('data', (d: Buffer) => created.push(d.toString()));
    try {
      const hostile = bridge.enqueue(env.environment_id, 'code_execution', { script: 'touch /workspace/pwned; chmod 777 /workspace\n' }, '..');
      await waitFor('the ".." item to be settled', () => ['stopped', 'acknowledged'].includes(bridge.work.get(hostile.work_id)!.state), 20_000);
      assert.equal(bridge.work.get(hostile.work_id)!.state, 'stopped', 'stopped, not run and acked');
      assert.match(bridge.work.get(hostile.work_id)!.stopReason ?? '', /refused/);
      // The worker goes on: the next item runs.
      const next = bridge.enqueue(env.environment_id, 'code_execution', { script: 'echo fine\n' });
      await waitFor('the next item to be acked', () => bridge.work.get(next.work_id)!.state === 'acknowledged', 30_000);
    } finally {
      (events as unknown as { destroy(): void }).destroy();
    }
    const installId = readFileSync(join(dataDir, 'install-id'), 'utf8').trim();
    assert.equal(created.filter((c) => c.includes(installId)).length, 1, 'one container: the next item’s');
    assert.ok(!existsSync(join(dataDir, 'pwned')));
    assert.equal(lstatSync(dataDir).mode & 0o777, 0o700);
    for (const [path, mode] of before) if (existsSync(path)) assert.equal(lstatSync(path).mode, mode, `${path} kept its mode`);
    assert.ok(!outpost.history.list().some((h) => h.workId === '..'), 'never an item of Outpost’s');
    await outpost.stopWorker('now');
  });

  it('an Anthropic item whose id is not an id is never run, and is stopped', async () => {
    const { environment, environmentKey } = playground.createEnvironment('hostile-ids');
    const { outpost } = await open({ environmentId: environment.id, baseUrl: playground.url, image: 'outpost-test-hostile' }, environmentKey);
    const item = playground.enqueue(environment.id, { workId: 'work..x' });
    await waitFor('the item to be stopped', () => playground.record(item.id).item.state === 'stopped', 20_000);
    assert.ok(!outpost.history.list().some((h) => h.workId === item.id), 'never run');
    await outpost.stopWorker('now');
  });

  it('workspace and log calls refuse work and environment ids that are not ids', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-sandbox-'));
    const outpost = Outpost.open({ dataDir, secrets: memorySecrets(), logger: createLogger({ format: 'text', sink: { write: () => {} } }) });
    opened.push(outpost);
    outpost.updateSettings({ logRetentionDays: 3 }); // a settings.json for `..` to reveal
    for (const bad of ['..', 'a/../../x', '.', '../settings.json']) {
      for (const [environmentId, workId] of [
        ['env_1', bad],
        [bad, 'work_1'],
      ]) {
        for (const [channel, arg] of [
          ['workspace.list', { environmentId, workId }],
          ['workspace.read', { environmentId, workId, path: 'settings.json' }],
          ['logs.info', { source: { kind: 'session', environmentId, workId } }],
          ['egress.list', { environmentId, workId }],
        ] as const) {
          const reply = await outpost.handle(channel, arg);
          assert.ok('error' in reply && reply.error.code === 'invalid-request', `${channel} ${environmentId} ${workId}: ${JSON.stringify(reply)}`);
        }
      }
      const reply = await outpost.handle('items.stop', { workId: bad });
      assert.ok('error' in reply && reply.error.code === 'invalid-request', `items.stop ${bad}: ${JSON.stringify(reply)}`);
    }
  });
});
