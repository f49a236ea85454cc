import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LinuxPowerSupply } from '../../electron/core/worker/power.js';

/** A /sys/class/power_supply-shaped folder; a string entry is a plain file where a supply's folder should be. */
function sysfs(supplies: Record<string, Record<string, string> | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-power-'));
  for (const [name, attrs] of Object.entries(supplies)) {
    if (typeof attrs === 'string') {
      writeFileSync(join(dir, name), attrs);
      continue;
    }
    mkdirSync(join(dir, name));
    for (const [file, value] of Object.entries(attrs)) writeFileSync(join(dir, name, file), `${value}\n`);
  }
  return dir;
}
const onBattery = (supplies: Record<string, Record<string, string> | string>) => new LinuxPowerSupply(sysfs(supplies)).onBattery();

describe('the Linux power supply, read as it comes', () => {
  it('a USB-C charger online is power, as mains is', () => {
    assert.equal(onBattery({ 'ucsi-source-psy-USBC000:001': { type: 'USB_C', online: '1' }, BAT0: { type: 'Battery', status: 'Discharging' } }), false);
    assert.equal(onBattery({ AC: { type: 'Mains', online: '0' }, BAT0: { type: 'Battery', status: 'Discharging' } }), true);
  });

  it('malformed entries never pause the worker: a battery without a status, an odd online value, a file where a folder should be', () => {
    assert.equal(onBattery({ BAT0: { type: 'Battery' } }), false);
    assert.equal(onBattery({ BAT0: { type: 'Battery', status: 'discharging?\u0000' } }), false);
    assert.equal(onBattery({ junk: 'not a folder', AC: { type: 'Mains', online: 'yes' }, BAT1: { type: 'Battery', status: 'Full' } }), false);
  });
});
