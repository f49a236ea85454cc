import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SettingsStore } from '../../electron/core/settings.js';
import { environmentProfileSchema } from '../../shared/contract.js';

describe('settings in the user-data folder', () => {
  it('starts from defaults, saves and loads back what was validated', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    const store = new SettingsStore(folder);
    const { settings, problem } = store.load();
    assert.equal(problem, undefined);
    assert.equal(settings.environments.length, 0);
    store.save({ ...settings, servedEnvironmentId: 'env_1', environments: [environmentProfileSchema.parse({ environmentId: 'env_1' })] });
    const again = new SettingsStore(folder).load().settings;
    assert.equal(again.servedEnvironmentId, 'env_1');
    assert.equal(again.environments[0]!.maxSessions, 2, 'defaults filled in');
    assert.equal(again.environments[0]!.networkMode, 'bridge');
  });

  it('keeps a corrupt file aside and reports it, never silently resetting it', () => {
    for (const content of ['{ not json', JSON.stringify({ environments: [{ environmentId: 'env_1', maxSessions: -3 }] })]) {
      const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
      writeFileSync(join(folder, 'settings.json'), content);
      const { settings, problem } = new SettingsStore(folder).load();
      assert.match(problem ?? '', /could not be read .* It was kept as .*settings\.json\.corrupt-/);
      assert.equal(settings.environments.length, 0);
      const aside = readdirSync(folder).find((f) => f.startsWith('settings.json.corrupt-'));
      assert.ok(aside, 'the old file is still there');
      assert.equal(readFileSync(join(folder, aside), 'utf8'), content, 'byte for byte');
    }
  });

  it('refuses to save what the schema refuses', () => {
    const store = new SettingsStore(mkdtempSync(join(tmpdir(), 'outpost-settings-')));
    assert.throws(() => store.save({ ...store.load().settings, logRetentionDays: 0 }));
  });
});
