import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { environmentProfileSchema, type ServiceEvent } from '../../shared/contract.js';
import { createLogger } from '../../electron/core/logs/log.js';
import { originOf } from '../../electron/core/secrets/key-origins.js';
import { Outpost } from '../../electron/core/outpost.js';
import { LinuxPowerSupply } from '../../electron/core/worker/power.js';
import { buildScriptImage } from '../helpers/docker.js';
import { memorySecrets } from '../helpers/secrets.js';
import { waitFor } from '../helpers/worker.js';

/** A fake /sys/class/power_supply: a mains adapter and a battery, as a laptop's kernel shows them. */
function powerSupply(): { dir: string; set: (onBattery: boolean) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-power-'));
  mkdirSync(join(dir, 'AC'));
  mkdirSync(join(dir, 'BAT0'));
  writeFileSync(join(dir, 'AC', 'type'), 'Mains\n');
  writeFileSync(join(dir, 'BAT0', 'type'), 'Battery\n');
  const set = (onBattery: boolean) => {
    writeFileSync(join(dir, 'AC', 'online'), onBattery ? '0\n' : '1\n');
    writeFileSync(join(dir, 'BAT0', 'status'), onBattery ? 'Discharging\n' : 'Charging\n');
  };
  set(false);
  return { dir, set };
}

describe('battery: on battery the worker claims nothing and says why; on power it claims again', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const opened: Outpost[] = [];

  before(async () => {
    await playground.start();
    await buildScriptImage('outpost-test-battery', 'sleep 3; echo finished on battery');
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    await playground.close();
  });

  it('reads the kernel’s power supplies: mains online or no battery is power; a discharging battery alone is battery', () => {
    const supply = powerSupply();
    assert.equal(new LinuxPowerSupply(supply.dir).onBattery(), false);
    supply.set(true);
    assert.equal(new LinuxPowerSupply(supply.dir).onBattery(), true);
    assert.equal(new LinuxPowerSupply(join(supply.dir, 'none')).onBattery(), false, 'no power supply class: a server');
  });

  it('a running session finishes on battery; nothing new is claimed until the power is back; the setting off claims at once', async () => {
    const supply = powerSupply();
    const { environment, environmentKey } = playground.createEnvironment('battery');
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-battery-'));
    const lines: string[] = [];
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger: createLogger({ format: 'text', sink: { write: (l) => void lines.push(l) } }), power: new LinuxPowerSupply(supply.dir, 100) });
    opened.push(outpost);
    const events: ServiceEvent[] = [];
    outpost.events.on((e) => void events.push(e));
    outpost.updateSettings({ pauseOnBattery: true });
    const profile = environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, image: 'outpost-test-battery', egress: 'none', graceSeconds: 1 });
    await secrets.set({ kind: 'environment-key', environmentId: environment.id }, environmentKey, originOf(playground.url));
    await outpost.serve(profile);
    await waitFor('online', () => outpost.workerState.status === 'online', 30_000);

    const running = playground.enqueue(environment.id);
    await waitFor('the first session to run', () => outpost.items.some((i) => i.workId === running.id && i.status === 'running'), 30_000);
    supply.set(true);
    await waitFor('the worker to say it is on battery', () => outpost.workerState.status === 'online' && outpost.workerState.blockedBy === 'on-battery', 5_000, 20);
    const queued = playground.enqueue(environment.id);
    await waitFor('the running session to finish on battery', () => outpost.history.list().some((h) => h.workId === running.id && h.status === 'finished'), 30_000);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(playground.record(queued.id).item.state, 'queued', 'nothing claimed on battery');
    assert.ok(lines.some((l) => /on battery: claiming no work until on power/.test(l)), 'the log says why');
    assert.ok(events.some((e) => e.name === 'worker-state' && e.payload.status === 'online' && e.payload.blockedBy === 'on-battery'), 'the window is told why');

    supply.set(false);
    await waitFor('the queued item claimed on power', () => playground.record(queued.id).item.state !== 'queued', 15_000);
    assert.ok(lines.some((l) => /on power again: claiming work/.test(l)));
    await waitFor('it to end', () => outpost.history.list().some((h) => h.workId === queued.id), 30_000);

    supply.set(true);
    await waitFor('on battery again', () => outpost.workerState.status === 'online' && outpost.workerState.blockedBy === 'on-battery', 5_000, 20);
    outpost.updateSettings({ pauseOnBattery: false });
    const third = playground.enqueue(environment.id);
    await waitFor('claimed on battery once the setting is off', () => playground.record(third.id).item.state !== 'queued', 15_000);
    await outpost.stopWorker('now');
  });
});
