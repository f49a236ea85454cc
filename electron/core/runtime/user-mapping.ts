import { readFileSync } from 'node:fs';
import type { EngineDescription } from './engine-info.js';
import type { SessionUser } from './workspace.js';

/**
 * How the session's uid on this machine (the owner of its workspace) becomes a uid in its container.
 * - `same`: a rootful engine (Docker, Docker Desktop's VM, rootful Podman): the uid is the uid.
 * - `rootless-root`: rootless Docker maps the container's root to the user who runs the engine, and every
 *   other container uid to one of that user's subordinate uids, which cannot write the user's 0700 workspace
 *   (docs.docker.com/engine/security/rootless, "Known limitations": no per-container user namespace). The
 *   session runs as the container's root — the user, nothing more — with no capability at all.
 * - `keep-id`: rootless Podman maps the user to the same uid inside with `--userns=keep-id` (podman-run(1),
 *   "--userns=keep-id"; its compat API takes HostConfig.UsernsMode "keep-id"): the session keeps the user's
 *   uid, and the container's root (the keeper) is a subordinate uid that owns nothing of the user's.
 */
export type UserMapping = 'same' | 'rootless-root' | 'keep-id';

export function userMapping(engine: Pick<EngineDescription, 'kind' | 'rootless'>, self = { uid: process.getuid?.(), hostRoot: inInitialUserNamespace() }): UserMapping {
  if (!engine.rootless) return 'same';
  // Root in a user namespace: the worker image run with `--user 0` on this rootless engine, in the engine's
  // own namespace, where its uids are the containers' uids, as on a rootful engine (a 65532 workspace is
  // its sessions' at 65532; rootless Docker's root, the host user, could not even enter it).
  if (self.uid === 0 && !self.hostRoot) return 'same';
  return engine.kind === 'Podman' ? 'keep-id' : 'rootless-root';
}

/**
 * Why a root Outpost cannot serve sessions on this engine, or undefined. A rootless engine is a user's own
 * (neither rootless Docker nor Podman runs rootless as root): it cannot enter the host root's 0700 data
 * folder to bind a workspace, and no uid it maps can write a workspace owned by 65532. Every session would
 * fail at its start; this says why before the first. A root that is itself in a user namespace (the worker
 * image run with `--user 0` on that rootless engine) is not the host's root, and is left to its mapping.
 */
export function rootOutpostProblem(engine: Pick<EngineDescription, 'kind' | 'rootless'>, processUid = process.getuid?.(), hostRoot = inInitialUserNamespace()): string | undefined {
  if (processUid !== 0 || !hostRoot || !engine.rootless) return undefined;
  return `Outpost runs as root, and this ${engine.kind} engine is rootless: it runs as the user who started it, and cannot reach root's data folder nor write a session's workspace.`;
}

/** The initial user namespace maps every uid to itself (user_namespaces(7)); elsewhere, or unreadable (not Linux), taken as it. */
function inInitialUserNamespace(): boolean {
  try {
    return /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync('/proc/self/uid_map', 'utf8'));
  } catch {
    return true;
  }
}

/** What to do about rootOutpostProblem, where no control of the window's is named. */
export const ROOT_OUTPOST_FIX = 'Run Outpost as the engine’s user, or choose a rootful engine (--docker-host).';

/** Who a session is in its container, and what the container needs for that. */
export interface ContainerIdentity {
  uid: number;
  gid: number;
  /** HostConfig.UsernsMode, where the engine maps users per container. */
  usernsMode?: string;
  /** The container's root, only because the engine maps it to the user: it is given no capability. */
  mappedRoot: boolean;
}

/**
 * The session's identity inside, for the user who owns its workspace here. A root session (a profile's
 * allowRoot) is the container's root on every engine: under rootless Podman without keep-id, so that its
 * root is the user and what it leaves stays the user's.
 */
export function containerIdentity(owner: SessionUser, mapping: UserMapping): ContainerIdentity {
  if (owner.uid === 0) return { uid: 0, gid: 0, mappedRoot: false };
  if (mapping === 'rootless-root') return { uid: 0, gid: 0, mappedRoot: true };
  if (mapping === 'keep-id') return { uid: owner.uid, gid: owner.gid, usernsMode: 'keep-id', mappedRoot: false };
  return { uid: owner.uid, gid: owner.gid, mappedRoot: false };
}

/**
 * HostConfig.UsernsMode for a container of this identity. One that joins another's network namespace
 * (a session in its sidecar's, `container:<id>`) joins its user namespace too: Podman cannot mount /sys in
 * a network namespace that another user namespace owns ("mount sysfs: operation not permitted").
 */
export function usernsMode(inside: Pick<ContainerIdentity, 'usernsMode'>, networkMode: string | undefined): string | undefined {
  if (!inside.usernsMode) return undefined;
  return networkMode?.startsWith('container:') ? networkMode : inside.usernsMode;
}

/** The uid a session has in its container and on this machine, in words for the log and `outpost doctor`. */
export function identityWords(owner: SessionUser, mapping: UserMapping): string {
  const inside = containerIdentity(owner, mapping);
  if (inside.mappedRoot) return `uid 0 in the container (the rootless engine's root: uid ${owner.uid} here), every capability dropped`;
  if (inside.usernsMode) return `uid ${inside.uid} in the container and here (Podman's keep-id), every capability dropped`;
  return `uid ${inside.uid}`;
}
