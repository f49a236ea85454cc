import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DATA_ENTRIES, dataFolderFor, formerWorkerDataFolder, migrateDataFolder } from '../../electron/core/store/data-folder.js';
import { DataPaths, InstanceRecord } from '../../electron/core/store/paths.js';

const folders: string[] = [];
const fresh = (base = tmpdir()) => {
  const dir = mkdtempSync(join(base, 'outpost-folder-'));
  folders.push(dir);
  return dir;
};
after(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('the data folder each OS is given', () => {
  it('Windows: %LOCALAPPDATA%\\Outpost (never Roaming), or AppData\\Local under the profile when unset', () => {
    assert.equal(dataFolderFor({ platform: 'win32', env: { LOCALAPPDATA: 'C:\\Users\\Ada\\AppData\\Local', APPDATA: 'C:\\Users\\Ada\\AppData\\Roaming' }, home: 'C:\\Users\\Ada' }), 'C:\\Users\\Ada\\AppData\\Local\\Outpost');
    assert.equal(dataFolderFor({ platform: 'win32', env: {}, home: 'C:\\Users\\Ada' }), 'C:\\Users\\Ada\\AppData\\Local\\Outpost');
    assert.equal(dataFolderFor({ platform: 'win32', env: { LOCALAPPDATA: 'relative\\x' }, home: 'C:\\Users\\Ada' }), 'C:\\Users\\Ada\\AppData\\Local\\Outpost');
  });

  it('macOS: ~/Library/Application Support/Outpost (under /Users, which Docker Desktop shares), XDG variables ignored', () => {
    assert.equal(dataFolderFor({ platform: 'darwin', env: { XDG_DATA_HOME: '/Users/ada/.xdg' }, home: '/Users/ada' }), '/Users/ada/Library/Application Support/Outpost');
  });

  it('Linux: $XDG_DATA_HOME/outpost when absolute, else ~/.local/share/outpost', () => {
    assert.equal(dataFolderFor({ platform: 'linux', env: { XDG_DATA_HOME: '/data/ada' }, home: '/home/ada' }), '/data/ada/outpost');
    assert.equal(dataFolderFor({ platform: 'linux', env: { XDG_DATA_HOME: 'rel' }, home: '/home/ada' }), '/home/ada/.local/share/outpost');
    assert.equal(dataFolderFor({ platform: 'linux', env: {}, home: '/home/ada' }), '/home/ada/.local/share/outpost');
  });

  it('OUTPOST_DATA_DIR wins on every OS', () => {
    for (const platform of ['win32', 'darwin', 'linux'] as const) assert.equal(dataFolderFor({ platform, env: { OUTPOST_DATA_DIR: '/srv/o' }, home: '/h' }), '/srv/o');
  });

  it('the headless worker’s former default, moved from on macOS and Windows only', () => {
    assert.equal(formerWorkerDataFolder({ platform: 'darwin', env: {}, home: '/Users/ada' }), '/Users/ada/.local/share/outpost');
    assert.equal(formerWorkerDataFolder({ platform: 'linux', env: {}, home: '/home/ada' }), undefined, 'unchanged on Linux');
    assert.equal(formerWorkerDataFolder({ platform: 'darwin', env: { OUTPOST_DATA_DIR: '/x' }, home: '/Users/ada' }), undefined);
  });
});

/** What an older desktop Outpost left in its userData: settings, Chromium's files, and sessions' data. */
function oldUserData(dir: string): string {
  mkdirSync(join(dir, 'workspaces', 'env_1.work_1'), { recursive: true });
  writeFileSync(join(dir, 'workspaces', 'env_1.work_1', 'out.txt'), 'result');
  // A warm workspace's link, relative to its sibling: it must still lead there after the move.
  mkdirSync(join(dir, 'workspaces', 'env_1.warm_1'));
  symlinkSync('env_1.warm_1', join(dir, 'workspaces', 'env_1.work_2'));
  mkdirSync(join(dir, 'logs', 'sessions'), { recursive: true });
  writeFileSync(join(dir, 'logs', 'sessions', 'env_1.work_1.log'), 'session log\n');
  writeFileSync(join(dir, 'logs', 'outpost.log'), 'app log\n');
  writeFileSync(join(dir, 'history.jsonl'), '{"workId":"work_1"}\n');
  writeFileSync(join(dir, 'install-id'), 'install-1\n');
  writeFileSync(join(dir, 'settings.json'), '{"retentionDays":3}');
  mkdirSync(join(dir, 'GPUCache'));
  return dir;
}

describe('moving an older data folder', () => {
  it('moves the sessions’ data, leaves settings and Chromium’s files, and keeps a warm link working', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'config', 'Outpost'));
    const to = join(base, 'share', 'outpost');
    const { use, said } = migrateDataFolder([old], to, DATA_ENTRIES);
    assert.equal(use, to);
    assert.equal(readFileSync(join(to, 'workspaces', 'env_1.work_1', 'out.txt'), 'utf8'), 'result');
    assert.equal(readlinkSync(join(to, 'workspaces', 'env_1.work_2')), 'env_1.warm_1');
    assert.ok(statSync(join(to, 'workspaces', 'env_1.work_2')).isDirectory());
    assert.equal(readFileSync(join(to, 'install-id'), 'utf8'), 'install-1\n', 'the same install: its containers are still its own');
    assert.ok(existsSync(join(to, 'logs', 'sessions', 'env_1.work_1.log')) && existsSync(join(to, 'history.jsonl')));
    assert.ok(existsSync(join(old, 'settings.json')) && existsSync(join(old, 'GPUCache')));
    assert.ok(!existsSync(join(old, 'workspaces')));
    assert.match(said.join('\n'), /moved Outpost's data from .*config\/Outpost to .*share\/outpost/);
    // A second start finds nothing to move and says nothing.
    assert.deepEqual(migrateDataFolder([old], to, DATA_ENTRIES), { use: to, said: [] });
    // What the data folder's owner opens there is what was moved.
    assert.ok(existsSync(new DataPaths(to).workspace('env_1', 'work_1')));
  });

  it('the target exists with data of its own (a headless worker’s): merged entry by entry, nothing overwritten, what collides stays behind and is named', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    const to = join(base, 'new');
    mkdirSync(join(to, 'workspaces', 'env_9.work_9'), { recursive: true });
    writeFileSync(join(to, 'install-id'), 'install-headless\n');
    writeFileSync(join(to, 'history.jsonl'), '{"workId":"work_9"}\n');
    const { use, said } = migrateDataFolder([old], to, DATA_ENTRIES);
    assert.equal(use, to);
    assert.ok(existsSync(join(to, 'workspaces', 'env_9.work_9')) && existsSync(join(to, 'workspaces', 'env_1.work_1')), 'both workspaces there');
    assert.equal(readFileSync(join(to, 'install-id'), 'utf8'), 'install-headless\n', 'not overwritten');
    assert.equal(readFileSync(join(old, 'install-id'), 'utf8'), 'install-1\n', 'the old one kept');
    assert.match(said.join('\n'), /already at .*new, so kept there; the older copies stay in .*old: .*history\.jsonl.*install-id/);
  });

  it('an old folder that is a link is neither followed nor moved', () => {
    const base = fresh();
    const elsewhere = oldUserData(join(base, 'elsewhere'));
    symlinkSync(elsewhere, join(base, 'old'));
    const to = join(base, 'new');
    const { use, said } = migrateDataFolder([join(base, 'old')], to, DATA_ENTRIES);
    assert.equal(use, to);
    assert.ok(existsSync(join(elsewhere, 'workspaces', 'env_1.work_1')), 'what it points at is untouched');
    assert.ok(lstatSync(join(base, 'old')).isSymbolicLink());
    assert.match(said.join('\n'), /is a link; not followed/);
  });

  it('a file where the new folder should be: the old folder stays in use, said', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    writeFileSync(join(base, 'new'), 'in the way');
    const { use, said } = migrateDataFolder([old], join(base, 'new'), DATA_ENTRIES);
    assert.equal(use, old);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')));
    assert.match(said.join('\n'), /is not a folder: the data folder stays at/);
  });

  it('a file where a folder of the old one goes (new/workspaces is a file): that entry stays behind, the rest moves', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    mkdirSync(join(base, 'new'));
    writeFileSync(join(base, 'new', 'workspaces'), 'in the way');
    const { said } = migrateDataFolder([old], join(base, 'new'), DATA_ENTRIES);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')));
    assert.ok(existsSync(join(base, 'new', 'logs', 'outpost.log')));
    assert.match(said.join('\n'), /older copies stay in .*: .*workspaces/);
  });

  it('another file system (tmpfs here): left there and used as it is, said', { skip: !existsSync('/dev/shm') && 'no /dev/shm' }, () => {
    const old = oldUserData(join(fresh('/dev/shm'), 'old'));
    const to = join(fresh(), 'new');
    assert.notEqual(statSync(old).dev, statSync(join(to, '..')).dev);
    const { use, said } = migrateDataFolder([old], to, DATA_ENTRIES);
    assert.equal(use, old);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')) && !existsSync(to));
    assert.match(said.join('\n'), /on another file system than .*: used where it is, not moved/);
  });

  it('an old folder a running Outpost still uses (a fresh instance record) is used where it is', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    const record = new InstanceRecord(new DataPaths(old));
    try {
      const { use, said } = migrateDataFolder([old], join(base, 'new'), DATA_ENTRIES);
      assert.equal(use, old);
      assert.match(said.join('\n'), /in use by a running Outpost/);
    } finally {
      record.dispose();
    }
  });

  it('two old folders (before and after the productName rename, on a case-sensitive disk): both merged into the new one', () => {
    const base = fresh();
    const lower = oldUserData(join(base, 'config', 'outpost'));
    const upper = join(base, 'config', 'Outpost');
    mkdirSync(join(upper, 'workspaces', 'env_2.work_2'), { recursive: true });
    const to = join(base, 'share', 'outpost');
    const { use } = migrateDataFolder([lower, upper], to, DATA_ENTRIES);
    assert.equal(use, to);
    assert.ok(existsSync(join(to, 'workspaces', 'env_1.work_1')) && existsSync(join(to, 'workspaces', 'env_2.work_2')));
    // The settings of the old name go to the new userData.
    const settings = migrateDataFolder([lower], upper, ['settings.json']);
    assert.equal(settings.use, upper);
    assert.equal(readFileSync(join(upper, 'settings.json'), 'utf8'), '{"retentionDays":3}');
  });

  it('the headless worker’s whole folder (no entries named) moves, its settings with it', () => {
    const base = fresh();
    const old = oldUserData(join(base, '.local', 'share', 'outpost'));
    const to = join(base, 'Library', 'Application Support', 'Outpost');
    const { use, said } = migrateDataFolder([old], to);
    assert.equal(use, to);
    assert.ok(existsSync(join(to, 'settings.json')) && existsSync(join(to, 'workspaces', 'env_1.work_1')));
    assert.ok(!existsSync(old), 'the emptied folder removed');
    assert.match(said.join('\n'), /removed the empty/);
  });
});
