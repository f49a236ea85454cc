import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { containerIdentity, identityWords, rootOutpostProblem, userMapping, usernsMode } from '../../electron/core/runtime/user-mapping.js';

const user = { uid: 1000, gid: 1000 };

describe('who a session is in its container, per engine', () => {
  it('a rootful engine, Docker Desktop’s VM included: the user’s own uid, no user namespace', () => {
    for (const kind of ['Docker', 'Docker Desktop', 'Podman', 'OrbStack', 'Colima']) {
      assert.equal(userMapping({ kind, rootless: false }), 'same');
      assert.deepEqual(containerIdentity(user, 'same'), { uid: 1000, gid: 1000, mappedRoot: false });
    }
  });

  it('rootless Docker: the container’s root, which is the user, and marked so that it gets no capability', () => {
    assert.equal(userMapping({ kind: 'Docker', rootless: true }), 'rootless-root');
    assert.deepEqual(containerIdentity(user, 'rootless-root'), { uid: 0, gid: 0, mappedRoot: true });
    assert.match(identityWords(user, 'rootless-root'), /uid 0 in the container \(the rootless engine's root: uid 1000 here\), every capability dropped/);
  });

  it('rootless Podman: keep-id, the same uid inside; a session in its sidecar’s network joins the sidecar’s user namespace', () => {
    assert.equal(userMapping({ kind: 'Podman', rootless: true }), 'keep-id');
    const inside = containerIdentity(user, 'keep-id');
    assert.deepEqual(inside, { uid: 1000, gid: 1000, usernsMode: 'keep-id', mappedRoot: false });
    assert.equal(usernsMode(inside, 'none'), 'keep-id');
    assert.equal(usernsMode(inside, 'container:abc123'), 'container:abc123');
    assert.equal(usernsMode(containerIdentity(user, 'same'), 'container:abc123'), undefined);
  });

  it('a root session (allowRoot) is the container’s root on every engine, never mapped away from the user, and keeps its capabilities', () => {
    for (const mapping of ['same', 'rootless-root', 'keep-id'] as const) {
      assert.deepEqual(containerIdentity({ uid: 0, gid: 0 }, mapping), { uid: 0, gid: 0, mappedRoot: false });
    }
  });
});

describe('a root Outpost and a rootless engine', () => {
  it('the host’s root is refused in words (the engine is a user’s own: it cannot reach root’s data folder); every other pairing serves', () => {
    for (const kind of ['Docker', 'Podman']) {
      assert.match(rootOutpostProblem({ kind, rootless: true }, 0, true) ?? '', new RegExp(`^Outpost runs as root, and this ${kind} engine is rootless`));
      assert.equal(rootOutpostProblem({ kind, rootless: false }, 0, true), undefined);
      assert.equal(rootOutpostProblem({ kind, rootless: true }, 1000, true), undefined);
      // Root in a user namespace (the worker image with --user 0 on that engine) is not the host's root: its
      // uids are the engine's containers' uids, as on a rootful engine (a 65532 workspace, a 65532 session).
      assert.equal(userMapping({ kind, rootless: true }, { uid: 0, hostRoot: false }), 'same');
      assert.notEqual(userMapping({ kind, rootless: true }, { uid: 1000, hostRoot: false }), 'same');
      assert.equal(rootOutpostProblem({ kind, rootless: true }, 0, false), undefined);
    }
  });
});
