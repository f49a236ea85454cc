import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { prepareWorkspace, UNPRIVILEGED_UID } from '../../electron/core/runtime/workspace.js';

const asRoot = process.getuid?.() === 0;
const session = asRoot ? { uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID } : { uid: process.getuid!(), gid: process.getgid!() };

/** A kept workspace as an earlier session of the same work id could have left it, and host files beside it. */
function scene() {
  const base = mkdtempSync(join(tmpdir(), 'outpost-ws-'));
  const host = join(base, 'host');
  mkdirSync(host, { mode: 0o755 });
  const hostFile = join(host, 'passwd');
  writeFileSync(hostFile, 'root:x:0:0\n', { mode: 0o644 });
  const locked = join(host, 'root-only');
  mkdirSync(locked, { mode: 0o700 });
  const workspaces = join(base, 'workspaces');
  mkdirSync(workspaces, { mode: 0o700 });
  return { base, host, hostFile, locked, workspaces, workspace: join(workspaces, 'w-1') };
}

describe('a session’s workspace, prepared by Outpost', () => {
  it('writes a file over a link the last session left, never through it: the host file keeps its content, mode and owner', () => {
    const s = scene();
    mkdirSync(s.workspace);
    symlinkSync(s.hostFile, join(s.workspace, 'outpost-script'));
    prepareWorkspace(s.workspace, session, { 'outpost-script': 'echo new\n' });
    assert.equal(readFileSync(s.hostFile, 'utf8'), 'root:x:0:0\n');
    assert.equal(statSync(s.hostFile).uid, process.getuid!());
    assert.equal(statSync(s.hostFile).mode & 0o7777, 0o644);
    const written = lstatSync(join(s.workspace, 'outpost-script'));
    assert.ok(written.isFile(), 'the link was replaced by a file of its own');
    assert.equal(written.mode & 0o7777, 0o600);
    assert.equal(written.uid, session.uid);
    assert.equal(readFileSync(join(s.workspace, 'outpost-script'), 'utf8'), 'echo new\n');
  });

  it('creates nothing where a dangling link points (a new file in a root-only folder)', () => {
    const s = scene();
    mkdirSync(s.workspace);
    symlinkSync(join(s.locked, 'planted'), join(s.workspace, 'outpost-script'));
    prepareWorkspace(s.workspace, session, { 'outpost-script': 'echo new\n' });
    assert.deepEqual(readdirSync(s.locked), []);
    assert.ok(lstatSync(join(s.workspace, 'outpost-script')).isFile());
  });

  it('replaces a folder the last session left under the file’s name', () => {
    const s = scene();
    mkdirSync(join(s.workspace, 'outpost-script', 'deep'), { recursive: true });
    symlinkSync(s.host, join(s.workspace, 'outpost-script', 'deep', 'up'));
    prepareWorkspace(s.workspace, session, { 'outpost-script': 'echo new\n' });
    assert.equal(readFileSync(join(s.workspace, 'outpost-script'), 'utf8'), 'echo new\n');
    assert.equal(readFileSync(s.hostFile, 'utf8'), 'root:x:0:0\n', 'removing the folder followed no link in it');
  });

  it('refuses a workspace folder that is a link, and leaves where it points alone', () => {
    const s = scene();
    symlinkSync(s.host, s.workspace);
    assert.throws(() => prepareWorkspace(s.workspace, session, { 'outpost-script': 'x' }), /is not a folder of its own/);
    assert.equal(statSync(s.host).mode & 0o7777, 0o755, 'not chmodded');
    assert.equal(statSync(s.host).uid, process.getuid!(), 'not chowned');
    assert.deepEqual(readdirSync(s.host).sort(), ['passwd', 'root-only']);
  });

  it('refuses a workspaces folder that is a link', () => {
    const s = scene();
    const elsewhere = join(s.base, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o755 });
    const linked = join(s.base, 'linked');
    symlinkSync(elsewhere, linked);
    assert.throws(() => prepareWorkspace(join(linked, 'w-1'), session, {}), /is not a folder of its own/);
    assert.deepEqual(readdirSync(elsewhere), []);
  });

  it('refuses a file name that is a path', () => {
    const s = scene();
    assert.throws(() => prepareWorkspace(s.workspace, session, { '../escape': 'x' }), /not a plain file name/);
    assert.throws(() => prepareWorkspace(s.workspace, session, { 'a/b': 'x' }), /not a plain file name/);
  });

  it('makes the folder 0700 and the session’s, and the file 0600 and the session’s', () => {
    const s = scene();
    prepareWorkspace(s.workspace, session, { 'outpost-script': 'echo\n' });
    const dir = lstatSync(s.workspace);
    assert.equal(dir.mode & 0o7777, 0o700);
    assert.equal(dir.uid, session.uid);
    assert.equal(lstatSync(join(s.workspace, 'outpost-script')).uid, session.uid);
  });
});
