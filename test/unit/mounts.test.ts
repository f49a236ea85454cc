import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { checkMounts } from '../../electron/core/runtime/mounts.js';

describe('read-only mounts: a folder a session reads, never one that hands it the host', () => {
  const root = mkdtempSync(join(tmpdir(), 'outpost-mounts-'));
  const dataDir = join(root, 'data');
  const datasets = join(root, 'datasets');
  mkdirSync(join(dataDir, 'workspaces'), { recursive: true });
  mkdirSync(datasets);
  symlinkSync(dataDir, join(root, 'innocent'));
  symlinkSync(join(dataDir, 'workspaces'), join(datasets, 'link-in'));

  it('mounts a folder at /mnt/<name>, or where asked, by its real path', () => {
    assert.deepEqual(checkMounts([{ source: datasets }], dataDir), [{ source: datasets, target: '/mnt/datasets' }]);
    assert.deepEqual(checkMounts([{ source: `${datasets}/`, target: '/data/./in' }], dataDir), [{ source: datasets, target: '/data/in' }]);
  });

  it('refuses /, the data folder, a folder inside it or holding it, and a symlink into it, saying why', () => {
    const refused: Array<[string, RegExp]> = [
      ['/', /refused to mount \/: the whole file system/],
      [dataDir, /Outpost’s data folder/],
      [join(dataDir, 'workspaces'), /Outpost’s data folder/],
      [root, /holds or is inside Outpost’s data folder/],
      [join(root, 'innocent'), /it leads to .*data\): it holds or is inside Outpost’s data folder/],
      [join(datasets, 'link-in'), /it leads to/],
      [join(root, 'nowhere'), /there is no such file or folder/],
    ];
    for (const [source, words] of refused) assert.throws(() => checkMounts([{ source }], dataDir), words, source);
  });

  it('refuses a folder that holds the Docker socket', { skip: !existsSync('/var/run/docker.sock') }, () => {
    assert.throws(() => checkMounts([{ source: dirname('/var/run/docker.sock') }], dataDir), /holds the Docker socket/);
    assert.throws(() => checkMounts([{ source: '/var/run/docker.sock' }], dataDir), /holds the Docker socket/);
  });

  it('refuses a target that hides the session’s own files, and two folders at one place', () => {
    assert.throws(() => checkMounts([{ source: datasets, target: '/workspace/data' }], dataDir), /hide the session’s own files/);
    assert.throws(() => checkMounts([{ source: datasets, target: '/' }], dataDir), /hide the session’s own files/);
    assert.throws(() => checkMounts([{ source: datasets }, { source: datasets }], dataDir), /another folder is mounted there/);
  });
});
