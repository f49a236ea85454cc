import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const MAX_ENTRIES = 5000;
export const MAX_READ_BYTES = 32 * 1024 * 1024;

export interface WorkspaceEntry {
  path: string;
  size: number;
  directory: boolean;
}

/** What a finished session left in its /workspace, as paths relative to it. Symlinks are listed, never followed. */
export function listWorkspace(root: string): WorkspaceEntry[] {
  const out: WorkspaceEntry[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (out.length >= MAX_ENTRIES) return;
      const full = join(dir, name);
      const stat = lstatSync(full);
      out.push({ path: relative(root, full).split(sep).join('/'), size: stat.isFile() ? stat.size : 0, directory: stat.isDirectory() });
      if (stat.isDirectory()) walk(full);
    }
  };
  walk(root);
  return out;
}

/** One regular file inside the workspace; anything that resolves outside it is refused. */
export function readWorkspaceFile(root: string, path: string): Buffer {
  const full = resolve(root, path);
  const inside = (p: string, base: string) => p === base || p.startsWith(base + sep);
  if (!inside(full, resolve(root))) throw new Error('that path is outside the workspace');
  if (!inside(realpathSync(full), realpathSync(root))) throw new Error('that path leads outside the workspace');
  const stat = lstatSync(full);
  if (!stat.isFile()) throw new Error(`${path} is not a file`);
  if (stat.size > MAX_READ_BYTES) throw new Error(`${path} is larger than 32 MiB; find it in ${root}`);
  return readFileSync(full);
}
