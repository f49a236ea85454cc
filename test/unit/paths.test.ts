import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { HistoryStore } from '../../electron/core/store/history.js';
import { currentProcess, DataPaths, INSTANCE_REFRESH_MS, INSTANCE_STALE_MS, InstanceRecord, isRunning, sessionKey, within } from '../../electron/core/store/paths.js';
import { SettingsStore } from '../../electron/core/store/settings.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the data folder', () => {
  it('retention removes the logs and workspaces of old sessions and keeps recent ones', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const old = Date.now() / 1000 - 20 * 24 * 3600;
    for (const id of ['work_old', 'work_new']) {
      writeFileSync(paths.sessionLog('env_1', id), 'log\n');
      mkdirSync(paths.workspace('env_1', id));
      writeFileSync(join(paths.workspace('env_1', id), 'out.txt'), 'x');
    }
    utimesSync(paths.sessionLog('env_1', 'work_old'), old, old);
    utimesSync(paths.workspace('env_1', 'work_old'), old, old);
    assert.equal(paths.pruneSessionFiles(14), 1);
    assert.equal(existsSync(paths.sessionLog('env_1', 'work_old')), false);
    assert.equal(existsSync(paths.workspace('env_1', 'work_old')), false);
    assert.equal(existsSync(paths.sessionLog('env_1', 'work_new')), true);
    assert.equal(existsSync(join(paths.workspace('env_1', 'work_new'), 'out.txt')), true);
  });

  it('retention keeps a running session’s files by their key, and removes by age what an older Outpost named by the work id alone', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const old = Date.now() / 1000 - 20 * 24 * 3600;
    const legacy = join(paths.workspaces, 'work_1');
    mkdirSync(legacy);
    writeFileSync(join(paths.sessionLogs, 'work_1.log'), 'log\n');
    mkdirSync(paths.workspace('env_1', 'work_1'));
    for (const path of [legacy, join(paths.sessionLogs, 'work_1.log'), paths.workspace('env_1', 'work_1')]) utimesSync(path, old, old);
    assert.equal(paths.pruneSessionFiles(14, Date.now(), new Set([sessionKey('env_1', 'work_1')])), 1);
    assert.equal(existsSync(legacy), false);
    assert.equal(existsSync(join(paths.sessionLogs, 'work_1.log')), false);
    assert.equal(existsSync(paths.workspace('env_1', 'work_1')), true, 'the running session’s workspace stays');
  });

  it('refuses ids that are not ids: nothing from the network names a path outside its folder', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    for (const bad of ['..', '.', '', '../../etc/passwd', 'a/../../b', 'a/b', '-rf', 'x\n', 'a.b', 'x'.repeat(129)]) {
      assert.throws(() => paths.workspace('env_1', bad), /refused the id/, JSON.stringify(bad));
      assert.throws(() => paths.sessionLog('env_1', bad), /refused the id/, JSON.stringify(bad));
      assert.throws(() => paths.workspace(bad, 'work_1'), /refused the id/, JSON.stringify(bad));
      assert.throws(() => paths.sessionEgress(bad, 'work_1'), /refused the id/, JSON.stringify(bad));
    }
    assert.equal(dirname(paths.workspace('env_1', 'work_011CZkZ9X2dpNyB7HsEFoRfW')), paths.workspaces);
    assert.equal(dirname(paths.sessionLog('env_1', '3f1c1a52-0c4e-4b8e-9a59-2d6c8e1f0b7a')), paths.sessionLogs);
  });

  it('gives the same work id of two environments two workspaces, two logs and two egress records', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    assert.notEqual(paths.workspace('env_a', 'w-1'), paths.workspace('env_b', 'w-1'));
    assert.notEqual(paths.sessionLog('env_a', 'w-1'), paths.sessionLog('env_b', 'w-1'));
    assert.notEqual(paths.sessionEgress('env_a', 'w-1'), paths.sessionEgress('env_b', 'w-1'));
    // Ids hold no '.': no environment and work id can spell another pair's name.
    assert.notEqual(sessionKey('env_a', 'b-w'), sessionKey('env', 'a-b-w'));
  });

  it('gives two long ids that share a 120-character prefix two folders (the old safeName cut both to one)', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const prefix = 'w'.repeat(120);
    assert.notEqual(paths.workspace('env_1', `${prefix}_a`), paths.workspace('env_1', `${prefix}_b`));
    assert.notEqual(paths.sessionLog('env_1', `${prefix}_a`), paths.sessionLog('env_1', `${prefix}_b`));
  });

  it('within() keeps every resolved path inside its parent', () => {
    assert.equal(within('/data/ws', 'work_1'), '/data/ws/work_1');
    assert.equal(within('/data/ws', '..foo'), '/data/ws/..foo');
    for (const bad of ['..', '.', '', '../x', 'a/../../x', '/etc/passwd']) assert.throws(() => within('/data/ws', bad), /leads outside/, bad);
  });

  it('makes the data folder and its folders 0700, tightening those an older Outpost left open, and its files 0600', () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-paths-'));
    mkdirSync(join(root, 'workspaces'), { mode: 0o777 });
    chmodSync(join(root, 'workspaces'), 0o777);
    chmodSync(root, 0o755);
    writeFileSync(join(root, 'history.jsonl'), '', { mode: 0o644 });
    const paths = new DataPaths(root);
    for (const dir of [root, join(root, 'logs'), paths.sessionLogs, paths.workspaces, paths.leases, paths.instances]) {
      assert.equal(statSync(dir).mode & 0o777, 0o700, dir);
    }
    paths.installId();
    const record = new InstanceRecord(paths);
    new HistoryStore(root).add({ workId: 'w', environmentId: 'e', kind: 'session', subjectId: 's', status: 'finished', claimedAt: 1, endedAt: 2, reason: 'ended', hasLog: true });
    new SettingsStore(root).update({ logRetentionDays: 3 });
    assert.equal(statSync(join(root, 'install-id')).mode & 0o777, 0o600);
    assert.equal(statSync(join(paths.instances, `${record.id}.json`)).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'history.jsonl')).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, 'settings.json')).mode & 0o777, 0o600);
    record.dispose();
  });
});

describe('a warm workspace given to its item: linked while mounted, settled after', () => {
  it('links the item to the warm folder, then moves the folder under the item’s name; an item that has one already is refused', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    mkdirSync(paths.workspace('env_a', 'warm-1'));
    writeFileSync(join(paths.workspace('env_a', 'warm-1'), 'made.txt'), 'x');
    assert.equal(paths.linkWorkspace('env_a', 'w-1', 'warm-1'), true);
    assert.equal(readFileSync(join(paths.workspace('env_a', 'w-1'), 'made.txt'), 'utf8'), 'x', 'reached through the link while mounted');
    assert.equal(paths.linkWorkspace('env_a', 'w-1', 'warm-2'), false, 'the item has a workspace already');
    paths.settleWorkspace('env_a', 'w-1');
    assert.ok(statSync(paths.workspace('env_a', 'w-1')).isDirectory() && !existsSync(paths.workspace('env_a', 'warm-1')));
    paths.settleWorkspace('env_a', 'w-1');
    assert.equal(readFileSync(join(paths.workspace('env_a', 'w-1'), 'made.txt'), 'utf8'), 'x', 'settling twice changes nothing');
  });

  it('never moves what a link it did not make names: a path out of workspaces/, or up from it', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const outside = mkdtempSync(join(tmpdir(), 'outpost-outside-'));
    for (const [workId, target] of [['w-abs', outside], ['w-up', '../settings.json'], ['w-dots', '..']] as const) {
      symlinkSync(target, paths.workspace('env_a', workId));
      paths.settleWorkspace('env_a', workId);
      assert.equal(readlinkSync(paths.workspace('env_a', workId)), target, `${target} left as it is`);
    }
    assert.ok(statSync(outside).isDirectory(), 'the folder outside is where it was');
  });
});

/** A worker in a container has the same pid after every `docker restart`; its dead instance must still read as dead. */
describe('an instance record: is its process alive', () => {
  const record = (paths: DataPaths, identity: object) => {
    const id = randomUUID();
    writeFileSync(join(paths.instances, `${id}.json`), JSON.stringify(identity));
    return id;
  };

  it('a process that listens on its socket is alive; killed with SIGKILL, dead, though nothing removed its record', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
      import { DataPaths, InstanceRecord } from ${JSON.stringify(join(root, 'electron/core/store/paths.ts'))};
      console.log(new InstanceRecord(new DataPaths(${JSON.stringify(paths.root)})).id);
      setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
    assert.equal(await InstanceRecord.isAlive(paths, id), true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(existsSync(join(paths.instances, `${id}.sock`)), true, 'the socket file outlives its process');
    assert.equal(await InstanceRecord.isAlive(paths, id), false);
    await InstanceRecord.prune(paths);
    assert.deepEqual(readdirSync(paths.instances), [], 'prune drops the record and its socket');
  });

  it('the socket decides over the pid: a record of this very pid whose socket nobody listens on is dead', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const id = record(paths, { ...currentProcess(), socket: true });
    const stale = createServer().listen(join(paths.instances, `${id}.sock`));
    await new Promise((r) => stale.once('listening', r));
    assert.equal(await InstanceRecord.isAlive(paths, id), true);
    // Closing removes the file: what a dead process leaves is a file with no listener, made here by hand.
    await new Promise((r) => stale.close(r));
    writeFileSync(join(paths.instances, `${id}.sock`), '');
    assert.equal(await InstanceRecord.isAlive(paths, id), false, 'the same pid, started at the same tick, but nobody answers');
  });

  it('a record a live Outpost keeps touching is alive, seen from anywhere (another pid namespace, a VM’s share); left untouched for 30 s, dead', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    // Another machine's process as far as identity goes: nothing here can look into it; only the touches speak.
    const id = record(paths, { pid: 1, boot: 'another-boot', pidNamespace: 'pid:[1]', refreshMs: INSTANCE_REFRESH_MS });
    const file = join(paths.instances, `${id}.json`);
    assert.equal(await InstanceRecord.isAlive(paths, id), true, 'fresh');
    const old = new Date(Date.now() - INSTANCE_STALE_MS - 1_000);
    utimesSync(file, old, old);
    assert.equal(await InstanceRecord.isAlive(paths, id), false, 'stale');
  });

  it('a live Outpost touches its record while it runs', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const mine = new InstanceRecord(paths);
    const file = join(paths.instances, `${mine.id}.json`);
    const old = new Date(Date.now() - INSTANCE_STALE_MS - 1_000);
    utimesSync(file, old, old);
    await new Promise((r) => setTimeout(r, INSTANCE_REFRESH_MS + 500));
    assert.ok(Date.now() - statSync(file).mtimeMs < INSTANCE_REFRESH_MS + 1_000, 'touched again');
    mine.dispose();
  });

  it('without a socket (an older record, Windows): this process is alive; its pid with another start time (a reused pid) is not', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const self = currentProcess();
    assert.ok(self.startTicks && self.boot && self.pidNamespace, 'Linux gives the start time, the boot and the pid namespace');
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, self)), true);
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, { ...self, startTicks: String(Number(self.startTicks) - 1) })), false);
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, { ...self, boot: 'another-boot' })), false);
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, { pid: process.pid })), true, 'an older Outpost\'s record, a pid alone');
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, { pid: 'x' })), false);
  });

  it('without a socket, a container restarted (new pid namespace, same container id) sees its earlier life as dead; another container as alive', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const container = 'a'.repeat(64);
    const before = { pid: 7, boot: 'b', pidNamespace: 'pid:[1]', startTicks: '100', container };
    const now = { pid: 7, boot: 'b', pidNamespace: 'pid:[2]', startTicks: '900', container };
    assert.equal(isRunning(before, now), false, 'the same pid, 7, after docker restart');
    assert.equal(isRunning({ ...before, container: 'c'.repeat(64) }, now), true, 'a sibling container cannot be looked into: never swept on a guess');
    assert.equal(isRunning({ ...before, container: undefined }, now), true, 'the host seen from a container');
    assert.equal(await InstanceRecord.isAlive(paths, record(paths, before), now), false);
  });
});
