import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { HistoryEntry } from '../../shared/contract.js';
import { HistoryStore } from '../../electron/core/store/history.js';
import { listWorkspace, readWorkspaceFile } from '../../electron/core/store/workspace-files.js';

const entry = (workId: string, endedAt: number): HistoryEntry => ({
  workId,
  environmentId: 'env_1',
  kind: 'session',
  subjectId: `sesn_${workId}`,
  status: 'finished',
  claimedAt: endedAt - 1000,
  endedAt,
  reason: 'session ended',
  hasLog: true,
});

describe('history of finished items', () => {
  it('survives a restart, newest first, and skips a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    const store = new HistoryStore(dir);
    store.add(entry('w1', 1));
    store.add(entry('w2', 2));
    appendFileSync(join(dir, 'history.jsonl'), '{"workId":"w3","env');
    const reopened = new HistoryStore(dir);
    assert.deepEqual(
      reopened.list().map((e) => e.workId),
      ['w2', 'w1'],
    );
  });

  it('keeps an entry per environment when two hand out the same work id, across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    const store = new HistoryStore(dir);
    store.add(entry('w-1', 1));
    store.add({ ...entry('w-1', 2), environmentId: 'env_2' });
    assert.deepEqual(
      new HistoryStore(dir).list().map((e) => `${e.environmentId} ${e.workId}`),
      ['env_2 w-1', 'env_1 w-1'],
    );
  });

  it('keeps the newest 500 across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    const store = new HistoryStore(dir);
    for (let i = 0; i < 1200; i++) store.add(entry(`w${i}`, i));
    const reopened = new HistoryStore(dir).list();
    assert.equal(reopened.length, 500);
    assert.equal(reopened[0]!.workId, 'w1199');
  });
});

describe('history on a full disk, a shared folder, a damaged file', () => {
  /** A data folder on a 64 KiB tmpfs, so the disk really fills; skipped where mounting is not allowed (not root). */
  function tinyDisk(t: TestContext): string | null {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-tinyfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      t.skip('mounting a small tmpfs needs root');
      return null;
    }
    t.after(() => execFileSync('umount', [dir]));
    return dir;
  }

  it('a full disk costs no entry: the one that failed is written with the next, and no line is torn', (t) => {
    const dir = tinyDisk(t);
    if (!dir) return;
    const store = new HistoryStore(dir);
    store.add(entry('w1', 1));
    const filler = join(dir, 'filler');
    assert.throws(() => writeFileSync(filler, Buffer.alloc(1 << 20)), /ENOSPC/, 'the disk is full');
    assert.throws(() => store.add(entry('w2', 2)), /ENOSPC/);
    assert.deepEqual(new HistoryStore(dir).list().map((e) => e.workId), ['w1'], 'what was on disk is intact');
    rmSync(filler);
    store.add(entry('w3', 3));
    assert.deepEqual(new HistoryStore(dir).list().map((e) => e.workId), ['w3', 'w2', 'w1']);
    assert.deepEqual(readdirSync(dir).sort(), ['history.jsonl'], 'no temporary file left');
  });

  it('two Outposts on one data folder keep each other’s entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    const desktop = new HistoryStore(dir);
    const headless = new HistoryStore(dir);
    desktop.add(entry('a1', 1));
    headless.add(entry('b1', 2));
    desktop.add(entry('a2', 3));
    assert.deepEqual(new HistoryStore(dir).list().map((e) => e.workId), ['a2', 'b1', 'a1']);
  });

  it('a history.jsonl that is a folder, or not JSON at all, starts an empty history instead of failing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    mkdirSync(join(dir, 'history.jsonl'));
    assert.deepEqual(new HistoryStore(dir).list(), []);
    const other = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    writeFileSync(join(other, 'history.jsonl'), Buffer.from([0xff, 0xfe, 0, 1, 2]));
    assert.deepEqual(new HistoryStore(other).list(), []);
  });
});

describe('a finished session’s workspace', () => {
  const workspace = () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-ws-'));
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'a.txt'), 'hello');
    symlinkSync('/etc/passwd', join(root, 'escape'));
    return root;
  };

  it('lists files and folders relative to /workspace', () => {
    assert.deepEqual(listWorkspace(workspace()), [
      { path: 'escape', size: 0, directory: false },
      { path: 'src', size: 0, directory: true },
      { path: 'src/a.txt', size: 5, directory: false },
    ]);
    assert.deepEqual(listWorkspace(join(tmpdir(), 'outpost-no-such-ws')), []);
  });

  it('reads a file, and refuses paths and links that lead outside it', () => {
    const root = workspace();
    assert.equal(readWorkspaceFile(root, 'src/a.txt').toString(), 'hello');
    assert.throws(() => readWorkspaceFile(root, '../../etc/passwd'), /outside the workspace/);
    assert.throws(() => readWorkspaceFile(root, '/etc/passwd'), /outside the workspace/);
    assert.throws(() => readWorkspaceFile(root, 'escape'), /leads outside the workspace/);
    assert.throws(() => readWorkspaceFile(root, 'src'), /not a file/);
  });
});
