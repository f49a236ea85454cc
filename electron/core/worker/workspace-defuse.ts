import { existsSync } from 'node:fs';
import type { Logger } from '../logs/log.js';
import type { SessionRuntime } from '../runtime/session-runtime.js';
import { LABEL } from '../runtime/labels.js';
import { defuseWorkspaceOffThread } from '../runtime/defuse.js';
import { sessionUser } from '../runtime/workspace.js';

export interface DefuseDeps {
  runtime: SessionRuntime;
  logger: Logger;
  installId: string;
  instanceId: string;
}

/**
 * The container is gone: nothing it left in the workspace may be a device node, a setuid file or
 * world-writable (runtime/workspace.ts). An Outpost that is not root cannot change what a root session
 * (allowRoot) left, nor remove it: the engine does it then, with root's privilege, and hands every file
 * to the user; Outpost's own pass runs again after it. Each pass walks on a worker thread: a
 * workspace may hold 100,000 files.
 */
export async function defuseAfterSession(deps: DefuseDeps, dir: string, workId: string): Promise<void> {
  const { runtime, logger } = deps;
  // No workspace yet (a start that failed first): nothing to defuse, and a bind mount of a missing folder would make it, as root.
  if (!existsSync(dir)) return;
  try {
    let result = await defuseWorkspaceOffThread(dir);
    const asRoot = process.getuid?.() === 0;
    if (!asRoot && (result.failed.length > 0 || result.notOurs > 0)) {
      try {
        await runtime.reclaimWorkspace(dir, sessionUser(false), { [LABEL.install]: deps.installId, [LABEL.instance]: deps.instanceId });
        const again = await defuseWorkspaceOffThread(dir);
        result = { ...again, removed: [...result.removed, ...again.removed], stripped: [...result.stripped, ...again.stripped] };
        logger.info('the engine gave back to this user what a root session left in its workspace', { work_id: workId });
      } catch (e) {
        logger.error('could not have the engine defuse the session’s workspace', { work_id: workId, error: (e as Error).message });
      }
    }
    const { removed, stripped, failed } = result;
    if (removed.length || stripped.length) logger.warn('the session left special files in its workspace; defused them', { work_id: workId, removed: removed.length, setuid_stripped: stripped.length });
    if (failed.length) logger.error('could not defuse every file the session left in its workspace', { work_id: workId, files: failed.length });
  } catch (e) {
    logger.error('could not defuse the session’s workspace', { work_id: workId, error: (e as Error).message });
  }
}
