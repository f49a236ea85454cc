import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

  it('retention’s trash moves with the rest (a removal a quit cut short is finished at the new place, not left on disk for good)', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    mkdirSync(join(old, 'trash', '0b6f5a3e-trashed'), { recursive: true });
    writeFileSync(join(old, 'trash', '0b6f5a3e-trashed', 'big.bin'), 'x');
    const to = join(base, 'new');
    migrateDataFolder([old], to, DATA_ENTRIES);
    assert.ok(existsSync(join(to, 'trash', '0b6f5a3e-trashed', 'big.bin')) && !existsSync(join(old, 'trash')));
  });

  it('the new folder cannot be made (a file where a folder above it goes): the old one stays in use, said, nothing thrown', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    writeFileSync(join(base, 'share'), 'in the way');
    const { use, said } = migrateDataFolder([old], join(base, 'share', 'outpost'), DATA_ENTRIES);
    assert.equal(use, old);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')));
    assert.match(said.join('\n'), /could not make .*share\/outpost \(ENOTDIR\): the data folder stays at .*old/);
  });

  it('the new folder inside the old one (the whole old folder would move into itself): nothing moved, said', () => {
    const base = fresh();
    const old = oldUserData(join(base, 'outpost'));
    mkdirSync(join(old, 'elsewhere'));
    const to = join(old, 'Library', 'Application Support', 'Outpost');
    const { use, said } = migrateDataFolder([old], to);
    assert.equal(use, to);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')) && existsSync(join(old, 'elsewhere')) && existsSync(join(old, 'settings.json')));
    assert.match(said.join('\n'), /is inside .*outpost: nothing moved/);
  });

  it('an old folder of another user (0700, unreadable): the start goes on with the new folder, and the log says why nothing moved', { skip: process.getuid?.() !== 0 && 'needs root to act as another user' }, () => {
    const base = fresh();
    chmodSync(base, 0o755);
    const old = oldUserData(join(base, 'old'));
    chmodSync(old, 0o700);
    const home = join(base, 'home');
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    // As nobody, through setpriv: root reads any folder.
    const script = `import { DATA_ENTRIES, migrateDataFolder } from ${JSON.stringify(fileURLToPath(new URL('../../electron/core/store/data-folder.ts', import.meta.url)))};
      console.log(JSON.stringify([migrateDataFolder([${JSON.stringify(old)}], ${JSON.stringify(join(home, 'a'))}), migrateDataFolder([${JSON.stringify(old)}], ${JSON.stringify(join(home, 'b'))}, DATA_ENTRIES)]));`;
    const out = execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const [whole, named] = JSON.parse(out) as Array<{ use: string; said: string[] }>;
    assert.equal(whole!.use, join(home, 'a'));
    assert.match(whole!.said.join('\n'), /could not read .*old \(EACCES\): whatever it holds stays there; the data folder is .*home\/a/);
    assert.equal(named!.use, join(home, 'b'));
    assert.match(named!.said.join('\n'), /could not read .*old \(EACCES\)/);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')));
  });

  it('a rename refused for every entry (two mounts of one disk give EXDEV; a file held open on Windows): the old folder stays in use, and the log says it was not moved rather than "already there"', { skip: process.getuid?.() !== 0 && 'needs root to bind-mount' }, (t) => {
    const base = fresh();
    const old = oldUserData(join(base, 'old'));
    const view = join(base, 'view');
    mkdirSync(view);
    mkdirSync(join(base, 'new-parent'));
    // A second mount of the same disk: one st_dev, and rename(2) across the two mount points fails with EXDEV.
    try {
      execFileSync('mount', ['--bind', join(base, 'new-parent'), view], { stdio: 'ignore' });
    } catch {
      return t.skip('no bind mount here');
    }
    t.after(() => execFileSync('umount', [view]));
    const to = join(view, 'outpost');
    assert.equal(statSync(view).dev, statSync(old).dev);
    const { use, said } = migrateDataFolder([old], to, DATA_ENTRIES);
    assert.equal(use, old);
    assert.ok(existsSync(join(old, 'workspaces', 'env_1.work_1')));
    assert.match(said.join('\n'), /could not move, so left in .*old \(tried again at the next start\): .*workspaces \(EXDEV\)/);
    assert.doesNotMatch(said.join('\n'), /already at/);
  });
});

