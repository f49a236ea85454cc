import { lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, statSync, type Stats } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, posix, resolve, win32 } from 'node:path';
import { INSTANCE_STALE_MS } from './paths.js';

/** What chooses the data folder: passed in, so each OS's choice is tested on any. */
export interface FolderHost {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  home: string;
}

export const currentHost = (): FolderHost => ({ platform: process.platform, env: process.env, home: homedir() });

/**
 * Where sessions' workspaces and logs live by default, for the desktop app and the headless worker
 * alike: a folder that stays on this machine (never one a roaming profile or a settings sync carries)
 * and that Docker Desktop shares with its engine out of the box, since a session's workspace is
 * bind-mounted from here by path.
 * - Windows: %LOCALAPPDATA%\Outpost. Local AppData (FOLDERID_LocalAppData) is the per-user folder
 *   that does not roam; Roaming AppData, where Electron's userData sits, is copied to the server
 *   with a roaming profile (https://learn.microsoft.com/windows/win32/shell/knownfolderid,
 *   https://learn.microsoft.com/windows/win32/shell/csidl). It is under C:\Users, which Docker
 *   Desktop's WSL 2 engine sees as /run/desktop/mnt/host/c/Users (runtime/host-path.ts).
 * - macOS: ~/Library/Application Support/Outpost — Electron's userData there (app.getPath,
 *   https://www.electronjs.org/docs/latest/api/app#appgetpathname), local (not iCloud Drive), and
 *   under /Users, one of the folders Docker Desktop shares by default with /Volumes, /private, /tmp
 *   and /var/folders (https://docs.docker.com/desktop/settings-and-maintenance/settings/#file-sharing).
 *   Not ~/Library/Caches: a finished session's workspace is the user's to download until retention
 *   removes it, not something to rebuild.
 * - Linux: $XDG_DATA_HOME/outpost, else ~/.local/share/outpost (XDG Base Directory spec: a relative
 *   value is ignored), as the headless worker always had; Docker Desktop for Linux shares $HOME by default.
 * OUTPOST_DATA_DIR, when set, wins everywhere.
 */
export function dataFolderFor(host: FolderHost): string {
  const set = (name: string, path: typeof posix | typeof win32) => {
    const value = host.env[name];
    return value && path.isAbsolute(value) ? value : undefined;
  };
  const override = host.env['OUTPOST_DATA_DIR'];
  if (override) return override;
  if (host.platform === 'win32') return win32.join(set('LOCALAPPDATA', win32) ?? win32.join(host.home, 'AppData', 'Local'), 'Outpost');
  if (host.platform === 'darwin') return posix.join(host.home, 'Library', 'Application Support', 'Outpost');
  return posix.join(set('XDG_DATA_HOME', posix) ?? posix.join(host.home, '.local', 'share'), 'outpost');
}

/** This process's default data folder (the headless worker's --data-dir default). */
export const defaultDataDir = (): string => dataFolderFor(currentHost());

/** Where the headless worker kept its data before it followed each OS (it used the XDG place everywhere). */
export function formerWorkerDataFolder(host: FolderHost): string | undefined {
  if (host.platform === 'linux' || host.env['OUTPOST_DATA_DIR']) return undefined;
  const xdg = host.env['XDG_DATA_HOME'];
  const path = host.platform === 'win32' ? win32 : posix;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(host.home, '.local', 'share'), 'outpost');
}

/** What of a data folder is sessions' data (paths.ts, history.ts, the Bridge's results, retention's trash), as against the desktop app's settings. */
export const DATA_ENTRIES = ['workspaces', 'logs', 'leases', 'instances', 'egress', 'bridge-results', 'trash', 'history.jsonl', 'install-id'];

export interface Migration {
  /** The folder to use: `to`, or an old one left where it was (another file system, in use). */
  use: string;
  /** What happened, in words, for the log; empty when there was nothing to move. */
  said: string[];
}

/**
 * Moves what an older Outpost kept in `from` (the first that has any of `entries`; all of it when
 * `entries` is undefined) into `to`. Renames only, so only within one file system: an old folder on
 * another one (or one a running Outpost still uses) is left and used as it is. Never overwrites: an
 * entry already at `to` is kept, and the old one stays behind, said in the log. Never follows a
 * link: an old folder that is a link, or a file where a folder should be, is left as it is. Never
 * throws: what it cannot read or move stays where it is, said in the log.
 */
export function migrateDataFolder(from: readonly string[], to: string, entries?: readonly string[]): Migration {
  const said: string[] = [];
  // Each old folder in turn (the desktop app's had two names): what the first left is merged with the next.
  for (const old of from) {
    if (resolve(old) === resolve(to)) continue;
    const stat = lstatOrUndefined(old);
    if (!stat) continue;
    if (stat.isSymbolicLink()) {
      said.push(`${old} is a link; not followed, and left as it is`);
      continue;
    }
    if (!stat.isDirectory()) continue;
    // A case-insensitive disk (macOS, Windows) sees ~/…/outpost and ~/…/Outpost as one folder.
    const target = statOrUndefined(to);
    if (target && sameFolder(target, stat)) continue;
    let names: string[];
    try {
      names = readdirSync(old);
    } catch (e) {
      // Another user's 0700 folder (a `sudo outpost worker` that kept HOME, as macOS's sudo does).
      said.push(`could not read ${old} (${codeOf(e)}): whatever it holds stays there; the data folder is ${to}`);
      continue;
    }
    const present = entries ? entries.filter((name) => names.includes(name)) : names;
    if (present.length === 0) continue;
    // The new folder inside the old one (an odd XDG_DATA_HOME or LOCALAPPDATA): all of the old one would move into itself.
    if (!entries && isInside(to, stat)) {
      said.push(`${to} is inside ${old}: nothing moved`);
      continue;
    }
    if (inUse(old)) return { use: old, said: [...said, `the data folder ${old} is in use by a running Outpost: used where it is, not moved to ${to}`] };
    if (target && !target.isDirectory()) return { use: old, said: [...said, `${to} is not a folder: the data folder stays at ${old}`] };
    if (deviceOf(to) !== stat.dev) return { use: old, said: [...said, `the data folder ${old} is on another file system than ${to}: used where it is, not moved (move it yourself, Outpost closed, to follow this OS's convention)`] };
    try {
      mkdirSync(to, { recursive: true, mode: 0o700 });
    } catch (e) {
      return { use: old, said: [...said, `could not make ${to} (${codeOf(e)}): the data folder stays at ${old}`] };
    }
    const outcome: Outcome = { moved: 0, kept: [], failed: [] };
    for (const name of present) moveInto(join(old, name), join(to, name), outcome);
    const list = (paths: string[]) => `${paths.slice(0, 10).join(', ')}${paths.length > 10 ? ` and ${paths.length - 10} more` : ''}`;
    const failed = outcome.failed.length > 0 ? [`could not move, so left in ${old} (tried again at the next start): ${list(outcome.failed)}`] : [];
    // Nothing could be moved (a rename refused across two mounts of one disk, EXDEV): the old folder still holds it all.
    if (outcome.moved === 0 && failed.length > 0) return { use: old, said: [...said, ...failed, `the data folder stays at ${old}`] };
    if (outcome.moved > 0) said.push(`moved Outpost's data from ${old} to ${to}`);
    if (outcome.kept.length > 0) said.push(`already at ${to}, so kept there; the older copies stay in ${old}: ${list(outcome.kept)}`);
    said.push(...failed);
    if (tryRmdir(old)) said.push(`removed the empty ${old}`);
  }
  return { use: to, said };
}

interface Outcome {
  moved: number;
  /** What was already at the new place (the older copy stays). */
  kept: string[];
  /** What could not be moved, with why. */
  failed: string[];
}

/** `src` renamed to `dst`; into a folder already there, entry by entry. */
function moveInto(src: string, dst: string, outcome: Outcome): void {
  const there = lstatOrUndefined(dst);
  if (!there) {
    try {
      renameSync(src, dst);
      outcome.moved++;
    } catch (e) {
      outcome.failed.push(`${src} (${codeOf(e)})`);
    }
    return;
  }
  const here = lstatOrUndefined(src);
  if (here?.isDirectory() && there.isDirectory()) {
    let names: string[];
    try {
      names = readdirSync(src);
    } catch (e) {
      outcome.failed.push(`${src} (${codeOf(e)})`);
      return;
    }
    for (const name of names) moveInto(join(src, name), join(dst, name), outcome);
    tryRmdir(src);
    return;
  }
  outcome.kept.push(dst);
}

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

const sameFolder = (a: Stats, b: Stats): boolean => a.dev === b.dev && a.ino === b.ino;

/** Is `path` (or where it would be made) inside the folder `folder` stats? By device and inode: a link or another case of a name is the same folder. */
function isInside(path: string, folder: Stats): boolean {
  for (let at = dirname(resolve(path)); ; at = dirname(at)) {
    const stat = statOrUndefined(at);
    if (stat && sameFolder(stat, folder)) return true;
    if (dirname(at) === at) return false;
  }
}

/** A live Outpost touches its instance record every few seconds (paths.ts InstanceRecord). */
function inUse(folder: string): boolean {
  try {
    return readdirSync(join(folder, 'instances')).some((f) => f.endsWith('.json') && Date.now() - statSync(join(folder, 'instances', f)).mtimeMs < INSTANCE_STALE_MS);
  } catch {
    return false;
  }
}

/** The device of `path`, or of the nearest folder above it that exists (where it would be made). */
function deviceOf(path: string): number | undefined {
  for (let at = resolve(path); ; at = dirname(at)) {
    const stat = statOrUndefined(at);
    if (stat) return stat.dev;
    if (dirname(at) === at) return undefined;
  }
}

function tryRmdir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
