import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SettingsStore } from '../../electron/core/store/settings.js';
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

  it('reads a file saved with a UTF-8 BOM as it is', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    writeFileSync(join(folder, 'settings.json'), '\uFEFF' + JSON.stringify({ servedEnvironmentId: 'env_bom', environments: [{ environmentId: 'env_bom' }] }));
    const { settings, problem } = new SettingsStore(folder).load();
    assert.equal(problem, undefined);
    assert.equal(settings.servedEnvironmentId, 'env_bom');
  });

  it('a folder named settings.json is moved aside and reported, not a crash at start', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    mkdirSync(join(folder, 'settings.json'));
    const { settings, problem } = new SettingsStore(folder).load();
    assert.match(problem ?? '', /could not be read \(it cannot be read: EISDIR\)\. It was kept as .*settings\.json\.corrupt-/);
    assert.equal(settings.environments.length, 0);
    assert.ok(new SettingsStore(folder).update({ logRetentionDays: 3 }), 'settings can be saved again');
  });

  it('refuses to save what the schema refuses', () => {
    const store = new SettingsStore(mkdtempSync(join(tmpdir(), 'outpost-settings-')));
    assert.throws(() => store.save({ ...store.load().settings, logRetentionDays: 0 }));
  });

  it('applies patches to what is on disk: two writers on one folder keep each other’s changes', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    const window = new SettingsStore(folder);
    const dashboard = new SettingsStore(folder);
    window.update({ servedEnvironmentId: 'env_1', environment: { environmentId: 'env_1', image: 'mine:1' } });
    dashboard.update({ environment: { environmentId: 'env_2', cpus: 4 } });
    window.update({ environment: { environmentId: 'env_1', maxSessions: 5 } });
    dashboard.update({ logRetentionDays: 3 });
    const settings = new SettingsStore(folder).load().settings;
    assert.equal(settings.servedEnvironmentId, 'env_1');
    assert.equal(settings.logRetentionDays, 3);
    const [one, two] = settings.environments;
    assert.deepEqual([one?.environmentId, one?.image, one?.maxSessions], ['env_1', 'mine:1', 5], 'a later patch of env_1 kept its image');
    assert.deepEqual([two?.environmentId, two?.cpus, two?.memoryMb], ['env_2', 4, 4096], 'a new profile gets the defaults for what the patch does not name');
  });

  it('refuses a patch the schema refuses, leaving the file as it was', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    const store = new SettingsStore(folder);
    store.update({ environment: { environmentId: 'env_1', cpus: 2 } });
    const before = readFileSync(store.file, 'utf8');
    assert.throws(() => store.update({ environment: { environmentId: 'env_1', cpus: -1 } }));
    assert.equal(readFileSync(store.file, 'utf8'), before);
  });
});

describe('egress policies in the settings', () => {
  it('a profile saved before policies existed keeps its network (open); a new one starts on the allowlist; a patch changes only what it names', () => {
    const folder = mkdtempSync(join(tmpdir(), 'outpost-settings-'));
    const old = { environmentId: 'env_old', networkMode: 'bridge', image: 'outpost-session:latest', cpus: 2, memoryMb: 4096, pids: 1024, maxSessions: 2 };
    writeFileSync(join(folder, 'settings.json'), JSON.stringify({ version: 1, servedEnvironmentId: 'env_old', environments: [old] }));
    const store = new SettingsStore(folder);
    assert.equal(store.load().settings.environments[0]!.egress, 'open');
    const created = store.update({ environment: { environmentId: 'env_new', name: 'laptop' } }).environments[1]!;
    assert.equal(created.egress, 'allowlist');
    assert.ok(created.allowHosts.includes('registry.npmjs.org') && created.allowHosts.includes('*.githubusercontent.com'));
    const changed = store.update({ environment: { environmentId: 'env_new', allowHosts: [...created.allowHosts, 'Example.org'] } }).environments[1]!;
    assert.deepEqual([changed.egress, changed.allowHosts.at(-1)], ['allowlist', 'example.org']);
    assert.equal(store.update({ environment: { environmentId: 'env_new', networkMode: 'host' } }).environments[1]!.egress, 'allowlist', 'a stored policy stays');
    assert.throws(() => store.update({ environment: { environmentId: 'env_new', allowHosts: ['http://evil'] } }));
    assert.throws(() => store.update({ environment: { environmentId: 'env_new', egress: 'everything' as 'open' } }));
  });
});
