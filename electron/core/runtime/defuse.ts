import { chmodSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runOnThread } from '../base/thread.js';
// Not from store/paths.ts, which brings the id schemas (zod) into every thread that walks.
import { PRIVATE_DIR_MODE } from '../store/modes.js';

/** What defuseWorkspace changed, for the log. */
export interface Defused {
  removed: string[];
  stripped: string[];
  /** Entries it could not fix (not ours to change: an opted-in root session's, seen by an Outpost that is not root). */
  failed: string[];
  /** How many entries belong to another uid, seen by an Outpost that is not root (it cannot remove them either). */
  notOurs: number;
}

/**
 * After the session, before anyone browses or keeps its workspace: remove device nodes, fifos and
 * sockets, strip setuid and setgid bits and group or world write — defence in depth behind the uid, the dropped
 * capabilities (no CAP_MKNOD, no CAP_CHOWN) and the 0700 data folder, for a session that ran as root
 * by the profile's choice. Folders are made the owner's to read and enter (u+rwx), so the browser
 * and retention can walk them. Symlinks are never followed. Run only once the container is gone.
 */
export function defuseWorkspace(dir: string): Defused {
  const result: Defused = { removed: [], stripped: [], failed: [], notOurs: 0 };
  const self = process.getuid?.();
  const walk = (path: string) => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return;
    }
    try {
      if (stat.isBlockDevice() || stat.isCharacterDevice() || stat.isFIFO() || stat.isSocket()) {
        rmSync(path, { force: true });
        result.removed.push(path);
        return;
      }
      if (self !== undefined && self !== 0 && stat.uid !== self) result.notOurs++;
      if (stat.isSymbolicLink()) return;
      const mode = stat.mode & 0o7777;
      // Nor group- or world-writable: the workspace is the session's alone.
      let safe = mode & ~0o6022;
      if (stat.isDirectory()) safe |= 0o700;
      if (safe !== mode) {
        chmodSync(path, safe);
        if (mode & 0o6000) result.stripped.push(path);
      }
    } catch {
      result.failed.push(path);
      return;
    }
    if (stat.isDirectory()) {
      let names: string[] = [];
      try {
        names = readdirSync(path);
      } catch {
        result.failed.push(path);
      }
      for (const name of names) walk(join(path, name));
    }
  };
  walk(dir);
  try {
    chmodSync(dir, PRIVATE_DIR_MODE);
  } catch {
    result.failed.push(dir);
  }
  return result;
}

/**
 * defuseWorkspace on a worker thread of its own (defuse-thread.ts), the same walk with the same
 * result: a session's node_modules is 100,000 files and seconds of lstat, which on the thread that
 * hosts the core would freeze the desktop app's window and hold every heartbeat.
 */
export function defuseWorkspaceOffThread(dir: string): Promise<Defused> {
  return runOnThread(new URL('./defuse-thread.js', import.meta.url), dir, 'the workspace’s defusing pass');
}
