import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HistoryEntry } from '../../shared/contract.js';
import { HistoryStore } from '../../electron/core/history.js';
import { listWorkspace, readWorkspaceFile } from '../../electron/core/workspace-files.js';

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

  it('keeps the newest 500 across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-history-'));
    const store = new HistoryStore(dir);
    for (let i = 0; i < 1200; i++) store.add(entry(`w${i}`, i));
    const reopened = new HistoryStore(dir).list();
    assert.equal(reopened.length, 500);
    assert.equal(reopened[0]!.workId, 'w1199');
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
