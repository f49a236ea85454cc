import { closeSync, constants, fchmodSync, fchownSync, lstatSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, within } from '../store/paths.js';

/** The uid:gid a session's processes run as. */
export interface SessionUser {
  uid: number;
  gid: number;
}

/**
 * The session's uid when Outpost itself runs as root (servers, CI, these build machines): 65532,
 * the "nonroot" user of distroless images — an unprivileged uid that no Debian or Ubuntu host gives
 * to an account, unlike 1000 (the first desktop user) or 65534 (nobody, shared by daemons). The
 * workspace is chowned to it.
 */
export const UNPRIVILEGED_UID = 65532;

export const ROOT: SessionUser = { uid: 0, gid: 0 };

/**
 * Who a session runs as (DESIGN §4: never uid 0 unless the profile allows it). On a laptop Outpost
 * runs as the desktop user: the session gets that user's own uid:gid, so what it leaves in its
 * workspace is the user's, with no chown. Run as root, Outpost gives it UNPRIVILEGED_UID. The image's
 * own USER is overridden either way: the workspace must belong to whoever runs, and an image's USER
 * (a name, or 0) is its author's choice, not the user's.
 */
export function sessionUser(allowRoot: boolean): SessionUser {
  if (allowRoot) return ROOT;
  const uid = process.getuid?.() ?? UNPRIVILEGED_UID;
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? uid };
  return { uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID };
}

/**
 * What the user is told of the session's uid where the OS has none to give (Windows: no
 * process.getuid): sessions run as UNPRIVILEGED_UID inside their Linux containers, and the workspace's
 * owner and 0700 mode, which Outpost sets on Linux and macOS, are no-ops on a Windows drive — Docker
 * Desktop's share decides who may write it. Undefined where uids exist.
 */
export function sessionUidNote(): string | undefined {
  if (process.getuid) return undefined;
  return `this OS has no Unix uids: sessions run as uid ${UNPRIVILEGED_UID} in their containers, and their workspaces' owner and mode (0700 elsewhere) are not set on this file system: Docker Desktop's file share decides who may write them`;
}

/**
 * The session's /workspace on the host: 0700 and owned by the session's uid (never world-writable),
 * with `files` written into it (mode 0600, the session's). Chown needs root; an Outpost that is not
 * root made the folder and files its own, which is already the session's uid (or root's, opted in).
 *
 * A workspace may be one a session already had (the same work id handed out again): anything in it
 * may be a link that session made to a host path. Outpost runs as root on servers, so nothing here
 * follows a link: the folder and its parent must be real folders (lstat), the folder is changed
 * through a descriptor opened with O_NOFOLLOW, and each file is written fresh — whatever had its name
 * removed first (a link itself, never its target), then created with O_EXCL | O_NOFOLLOW, and chmodded
 * and chowned through that descriptor.
 */
export function prepareWorkspace(dir: string, user: SessionUser, files: Record<string, string> = {}): void {
  for (const name of Object.keys(files)) {
    if (name !== basename(name) || name === '.' || name === '..' || name === '') throw new Error(`refused the workspace file ${JSON.stringify(name)}: not a plain file name`);
  }
  assertRealFolder(dirname(dir));
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  assertRealFolder(dir);
  const asRoot = process.getuid?.() === 0;
  withDescriptor(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW, (fd) => {
    fchmodSync(fd, PRIVATE_DIR_MODE);
    if (asRoot) fchownSync(fd, user.uid, user.gid);
  });
  for (const [name, content] of Object.entries(files)) {
    const file = within(dir, name);
    rmSync(file, { recursive: true, force: true });
    withDescriptor(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, (fd) => {
      fchmodSync(fd, PRIVATE_FILE_MODE);
      if (asRoot) fchownSync(fd, user.uid, user.gid);
      writeFileSync(fd, content);
    }, PRIVATE_FILE_MODE);
  }
}

/** A folder Outpost is about to hand a session: a folder itself, not a link to one somewhere else. */
function assertRealFolder(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // mkdir makes it, as a folder
    throw e;
  }
  if (!stat.isDirectory()) throw new Error(`refused the workspace ${path}: it is not a folder of its own (a link or a file is there)`);
}

function withDescriptor(path: string, flags: number, use: (fd: number) => void, mode?: number): void {
  const fd = openSync(path, flags, mode);
  try {
    use(fd);
  } finally {
    closeSync(fd);
  }
}
