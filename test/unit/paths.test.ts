import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { DataPaths } from '../../electron/core/paths.js';

describe('the data folder', () => {
  it('retention removes the logs and workspaces of old sessions and keeps recent ones', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    const old = Date.now() / 1000 - 20 * 24 * 3600;
    for (const id of ['work_old', 'work_new']) {
      writeFileSync(paths.sessionLog(id), 'log\n');
      mkdirSync(paths.workspace(id));
      writeFileSync(join(paths.workspace(id), 'out.txt'), 'x');
    }
    utimesSync(paths.sessionLog('work_old'), old, old);
    utimesSync(paths.workspace('work_old'), old, old);
    assert.equal(paths.pruneSessionFiles(14), 1);
    assert.equal(existsSync(paths.sessionLog('work_old')), false);
    assert.equal(existsSync(paths.workspace('work_old')), false);
    assert.equal(existsSync(paths.sessionLog('work_new')), true);
    assert.equal(existsSync(join(paths.workspace('work_new'), 'out.txt')), true);
  });

  it('keeps work ids from the network to safe file names', () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-paths-')));
    assert.equal(dirname(paths.sessionLog('../../etc/passwd')), paths.sessionLogs);
    assert.equal(dirname(paths.workspace('a/../../b')), paths.workspaces);
  });
});
