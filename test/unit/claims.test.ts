import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../../electron/core/logs/log.js';
import { DataPaths, InstanceRecord } from '../../electron/core/store/paths.js';
import type { ClaimRecord, ControlPlane } from '../../electron/core/providers/control-plane.js';
import type { DockerRuntime } from '../../electron/core/runtime/docker.js';
import { ClaimStore } from '../../electron/core/worker/claims.js';
import { sweepOrphans } from '../../electron/core/worker/recovery.js';

const dataFolder = () => new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-claims-')));
const work = (workId: string, environmentId = 'env_a') => ({ workId, environmentId, provider: 'anthropic' });

describe('the claim store', () => {
  it('records the claim with its owner at once, updates it in place and forgets it on release', () => {
    const paths = dataFolder();
    const store = new ClaimStore(paths.leases);
    const claim = store.open({ ...work('work_1'), instanceId: 'inst_1' });
    assert.deepEqual(store.list(), [{ ...work('work_1'), instanceId: 'inst_1' }]);
    claim.update({ lastHeartbeat: 'hb_1' });
    claim.update({ lastHeartbeat: 'hb_2' });
    assert.deepEqual(store.list(), [{ ...work('work_1'), instanceId: 'inst_1', lastHeartbeat: 'hb_2' }]);
    assert.deepEqual(readdirSync(paths.leases), ['env_a.work_1.json'], 'written through a temporary file renamed over the record: nothing else left');
    claim.release();
    claim.update({ lastHeartbeat: 'hb_3' });
    assert.deepEqual(readdirSync(paths.leases), [], 'released for good: a late beat does not bring it back');
  });

  it('refuses a work id that is not an id, writes records 0600, and skips what is not a claim', () => {
    const paths = dataFolder();
    const store = new ClaimStore(paths.leases);
    for (const bad of ['../../etc/passwd', '..', 'a/b']) assert.throws(() => store.open({ ...work(bad), instanceId: 'inst_1' }), /refused the id/);
    assert.throws(() => store.forget(work('..')), /refused the id/);
    store.open({ ...work('work_1'), instanceId: 'inst_1' });
    assert.deepEqual(readdirSync(paths.leases), ['env_a.work_1.json']);
    assert.equal(statSync(join(paths.leases, 'env_a.work_1.json')).mode & 0o777, 0o600);
    writeFileSync(join(paths.leases, 'work_2.json'), '{"workId": "work_2", "environ');
    writeFileSync(join(paths.leases, 'work_3.json.1234-abcd.tmp'), '{}');
    assert.deepEqual(store.list().map((c) => c.workId), ['work_1']);
  });

  it('keeps one claim per environment for the same work id: releasing one leaves the other', () => {
    const paths = dataFolder();
    const store = new ClaimStore(paths.leases);
    const a = store.open({ ...work('w-1', 'env_a'), instanceId: 'inst_1' });
    store.open({ ...work('w-1', 'env_b'), instanceId: 'inst_1' });
    assert.deepEqual(readdirSync(paths.leases).sort(), ['env_a.w-1.json', 'env_b.w-1.json']);
    a.release();
    assert.deepEqual(store.list().map((c) => c.environmentId), ['env_b']);
  });

  it('on release, leaves a record that another process has since written under the same name', () => {
    const paths = dataFolder();
    const mine = new ClaimStore(paths.leases).open({ ...work('work_1'), instanceId: 'inst_1' });
    // The lease lapsed and the item went to another process on this data folder.
    new ClaimStore(paths.leases).open({ ...work('work_1'), instanceId: 'inst_2' });
    mine.release();
    assert.equal(JSON.parse(readFileSync(join(paths.leases, 'env_a.work_1.json'), 'utf8')).instanceId, 'inst_2');
  });
});

describe('startup recovery of claims on a shared data folder', () => {
  it('recovers the claims of dead processes (and of older Outposts that named no owner), never those of a live one', async () => {
    const paths = dataFolder();
    const store = new ClaimStore(paths.leases);
    const live = new InstanceRecord(paths); // this test process: alive
    const self = randomUUID();
    const dead = randomUUID();
    writeFileSync(join(paths.instances, `${dead}.json`), JSON.stringify({ pid: 2 ** 22 + 1, startedAt: new Date().toISOString() }));
    store.open({ ...work('work_live'), instanceId: live.id }).update({ lastHeartbeat: 'hb' });
    store.open({ ...work('work_self'), instanceId: self });
    store.open({ ...work('work_dead'), instanceId: dead }).update({ lastHeartbeat: 'hb' });
    store.open({ ...work('work_dead_elsewhere', 'env_b'), instanceId: dead });
    writeFileSync(join(paths.leases, 'work_old.json'), JSON.stringify({ ...work('work_old'), lastHeartbeat: 'hb' }));

    const recovered: string[] = [];
    const provider = {
      provider: 'anthropic',
      environmentId: 'env_a',
      recover: async (claim: ClaimRecord) => (recovered.push(claim.workId), 'stopped' as const),
      describe: (e: unknown) => String(e),
    } as unknown as ControlPlane;
    const runtime = { listOutpostContainers: async () => [] } as unknown as DockerRuntime;
    const result = await sweepOrphans({ provider, runtime, paths, logger: silentLogger, installId: 'install', instanceId: self }, store, AbortSignal.timeout(5_000));

    assert.deepEqual(recovered.sort(), ['work_dead', 'work_old']);
    assert.deepEqual(result.stopped.sort(), ['work_dead', 'work_old']);
    const kept = store.list().map((c) => c.workId);
    assert.deepEqual(kept.sort(), ['work_dead_elsewhere', 'work_live', 'work_self'], "a live process's claim, our own, and another environment's stay");
    live.dispose();
  });
});
