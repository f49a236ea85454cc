import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runOnThread } from '../base/thread.js';

/**
 * Remove everything in `dir` (its entries, not the folder), links as links: rm -rf never follows
 * one. An entry that cannot be removed (a root session's files, seen by an Outpost that is not root)
 * stays for the next time, and is named in the reply.
 */
export function emptyFolder(dir: string): string[] {
  const failed: string[] = [];
  for (const name of readdirSync(dir)) {
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
    } catch (e) {
      failed.push(`${join(dir, name)}: ${(e as Error).message}`);
    }
  }
  return failed;
}

/** emptyFolder on a worker thread of its own (trash-thread.ts): the calling thread's event loop stays free. */
export function emptyFolderOffThread(dir: string, signal?: AbortSignal): Promise<string[]> {
  return runOnThread(new URL('./trash-thread.js', import.meta.url), dir, 'emptying the trash', signal);
}
