import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { defuseWorkspace, defuseWorkspaceOffThread, type Defused } from '../../electron/core/runtime/defuse.js';
import { DataPaths } from '../../electron/core/store/paths.js';
import { memorySecrets } from '../helpers/secrets.js';

const immutable: string[] = [];
after(() => {
  for (const path of immutable) execFileSync('chattr', ['-i', path]);
});

/** What a hostile session can leave: links out (to / and to a host folder), a fifo, setuid and world-writable files, deep nesting, a folder closed to its owner, a link loop. */
function hostileTree(root: string, host: string): void {
  mkdirSync(join(root, 'src', 'lib'), { recursive: true });
  writeFileSync(join(root, 'src', 'run'), '#!/bin/sh\n');
  chmodSync(join(root, 'src', 'run'), 0o4755);
  writeFileSync(join(root, 'src', 'lib', 'shared'), 'x');
  chmodSync(join(root, 'src', 'lib', 'shared'), 0o2777);
  mkdirSync(join(root, 'open'));
  chmodSync(join(root, 'open'), 0o777);
  execFileSync('mkfifo', [join(root, 'src', 'pipe')]);
  symlinkSync('/', join(root, 'to-root'));
  symlinkSync(host, join(root, 'src', 'to-host'));
  symlinkSync('loop', join(root, 'loop'));
  let deep = root;
  for (let i = 0; i < 200; i++) mkdirSync((deep = join(deep, 'd')));
  writeFileSync(join(deep, 'bottom'), 'x');
  chmodSync(join(deep, 'bottom'), 0o6777);
  mkdirSync(join(root, 'closed', 'inner'), { recursive: true });
  writeFileSync(join(root, 'closed', 'inner', 'suid'), 'x');
  chmodSync(join(root, 'closed', 'inner', 'suid'), 0o4755);
  chmodSync(join(root, 'closed'), 0o000);
}

/** Every entry under `root`, its type and mode, by relative path: the tree as the pass left it. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string) => {
    const stat = lstatSync(path);
    out[relative(root, path) || '.'] = `${stat.isSymbolicLink() ? 'link' : stat.isDirectory() ? 'dir' : stat.isFIFO() ? 'fifo' : 'file'} ${(stat.mode & 0o7777).toString(8)}`;
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return out;
}

const relativeTo = (root: string, result: Defused) => ({
  removed: result.removed.map((p) => relative(root, p)).sort(),
  stripped: result.stripped.map((p) => relative(root, p)).sort(),
  failed: result.failed.map((p) => relative(root, p)).sort(),
  notOurs: result.notOurs,
});

describe('the core’s file walks, off the event loop', () => {
  it('the defusing pass on a worker thread does what it did inline, on a hostile tree, and follows no link', async () => {
    const base = mkdtempSync(join(tmpdir(), 'outpost-defuse-'));
    const host = join(base, 'host');
    mkdirSync(host);
    writeFileSync(join(host, 'passwd'), 'root:x:0:0\n', { mode: 0o666 });
    chmodSync(join(host, 'passwd'), 0o666);
    const rootMode = statSync('/').mode;
    const [inline, threaded] = [join(base, 'inline'), join(base, 'threaded')];
    for (const root of [inline, threaded]) hostileTree(root, host);
    // A file the pass cannot change (immutable: even root's chmod fails): it is reported, and the walk goes on.
    const canPin = (() => {
      try {
        for (const root of [inline, threaded]) {
          writeFileSync(join(root, 'pinned'), 'x', { mode: 0o4755 });
          chmodSync(join(root, 'pinned'), 0o4755);
          execFileSync('chattr', ['+i', join(root, 'pinned')], { stdio: 'ignore' });
          immutable.push(join(root, 'pinned'));
        }
        return true;
      } catch {
        return false; // no chattr here, or a file system without the flag
      }
    })();

    const before = relativeTo(inline, defuseWorkspace(inline));
    const now = relativeTo(threaded, await defuseWorkspaceOffThread(threaded));
    assert.deepEqual(now, before);
    assert.deepEqual(snapshot(threaded), snapshot(inline));

    assert.deepEqual(now.removed, ['src/pipe']);
    const deep = Array.from({ length: 200 }, () => 'd').join('/');
    assert.deepEqual(now.stripped, ['closed/inner/suid', `${deep}/bottom`, 'src/lib/shared', 'src/run'].sort());
    if (canPin) assert.deepEqual(now.failed, ['pinned']);
    const tree = snapshot(threaded);
    assert.equal(tree['src/run'], 'file 755');
    assert.equal(tree['src/lib/shared'], 'file 755');
    assert.equal(tree['open'], 'dir 755');
    assert.equal(tree['closed'], 'dir 700', 'a folder closed to its owner is opened to its owner alone, and walked');
    assert.equal(tree[`${deep}/bottom`], 'file 755');
    assert.equal(tree['to-root'], 'link 777');
    assert.equal(tree['.'], 'dir 700');
    // Nothing past a link changed.
    assert.equal(statSync('/').mode, rootMode);
    assert.equal(statSync(join(host, 'passwd')).mode & 0o7777, 0o666);
    assert.equal(readFileSync(join(host, 'passwd'), 'utf8'), 'root:x:0:0\n');
  });

  it('the event loop keeps turning while a large workspace is defused: timers fire between the pass’s changes', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outpost-defuse-big-'));
    const samples: string[] = [];
    for (let d = 0; d < 400; d++) {
      mkdirSync(join(root, `m${d}`));
      for (let f = 0; f < 50; f++) writeFileSync(join(root, `m${d}`, `f${f}`), '', { mode: 0o666 });
      chmodSync(join(root, `m${d}`, 'f0'), 0o666);
      if (d % 20 === 0) samples.push(join(root, `m${d}`, 'f0'));
    }
    // Each tick looks at files spread over the tree: a tick that sees some fixed and some not yet ran while the pass walked.
    let ticks = 0;
    let midway = 0;
    const ticker = setInterval(() => {
      ticks++;
      const fixed = samples.filter((p) => (lstatSync(p).mode & 0o022) === 0).length;
      if (fixed > 0 && fixed < samples.length) midway++;
    }, 1);
    const result = await defuseWorkspaceOffThread(root);
    clearInterval(ticker);
    assert.equal(result.failed.length, 0);
    assert.ok(samples.every((p) => (lstatSync(p).mode & 0o7777) === 0o644), 'the pass finished its work');
    assert.ok(midway > 0, `no timer fired while the pass was under way (${ticks} ticks in all)`);
  });

  it('retention: an old session leaves its name at once; its files go on a worker thread while timers fire; links in it are not followed', async () => {
    const paths = new DataPaths(mkdtempSync(join(tmpdir(), 'outpost-retention-')));
    const host = mkdtempSync(join(tmpdir(), 'outpost-host-'));
    writeFileSync(join(host, 'keep'), 'x');
    const old = paths.workspace('env_1', 'work_old');
    for (let d = 0; d < 400; d++) {
      mkdirSync(join(old, `m${d}`), { recursive: true });
      for (let f = 0; f < 50; f++) writeFileSync(join(old, `m${d}`, `f${f}`), '');
    }
    symlinkSync(host, join(old, 'to-host'));
    symlinkSync('/', join(old, 'to-root'));
    const monthAgo = Date.now() / 1000 - 30 * 24 * 3600;
    utimesSync(old, monthAgo, monthAgo);

    assert.equal(paths.pruneSessionFiles(14), 1);
    assert.equal(existsSync(old), false, 'gone from its name before any file is removed');
    // The same work id handed out again meanwhile gets a workspace of its own, which the emptying never touches.
    mkdirSync(old);
    writeFileSync(join(old, 'new'), 'x');

    const [trashed] = readdirSync(paths.trash);
    const count = () => readdirSync(join(paths.trash, trashed!)).length;
    const all = count();
    let midway = 0;
    const ticker = setInterval(() => {
      const left = existsSync(join(paths.trash, trashed!)) ? count() : 0;
      if (left > 0 && left < all) midway++;
    }, 1);
    assert.deepEqual(await paths.emptyTrash(), []);
    clearInterval(ticker);
    assert.deepEqual(readdirSync(paths.trash), []);
    assert.ok(midway > 0, 'no timer fired while the old workspace was being removed');
    assert.equal(readFileSync(join(old, 'new'), 'utf8'), 'x');
    assert.deepEqual(readdirSync(host), ['keep']);
    assert.ok(existsSync('/etc'));
  });

  it('an Outpost finishes at open what the last one left in the trash (a quit mid-removal), and dispose ends a removal under way', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-trash-'));
    const paths = new DataPaths(dataDir);
    mkdirSync(join(paths.trash, 'left-by-a-quit', 'deep'), { recursive: true });
    writeFileSync(join(paths.trash, 'left-by-a-quit', 'deep', 'f'), 'x');
    const outpost = Outpost.open({ dataDir, secrets: memorySecrets(), logger: silentLogger, retentionCheckMs: 60_000 });
    assert.equal(await outpost.pruneOldSessions(), 0);
    assert.deepEqual(readdirSync(paths.trash), []);

    for (let d = 0; d < 200; d++) {
      mkdirSync(join(paths.trash, 'big', `m${d}`), { recursive: true });
      for (let f = 0; f < 50; f++) writeFileSync(join(paths.trash, 'big', `m${d}`, `f${f}`), '');
    }
    const pruning = outpost.pruneOldSessions();
    await outpost.dispose();
    assert.equal(await pruning, 0, 'the retention pass ends with the Outpost, without an error');
  });
});
