import { join } from 'node:path';
import { sessionKey } from '../../electron/core/store/paths.js';

/** Where a session's files are in a data folder: named by its environment and work id (store/paths.ts). */
export function sessionFiles(dataDir: string, environmentId: string, workId: string): { log: string; workspace: string; claim: string } {
  const key = sessionKey(environmentId, workId);
  return {
    log: join(dataDir, 'logs', 'sessions', `${key}.log`),
    workspace: join(dataDir, 'workspaces', key),
    claim: join(dataDir, 'leases', `${key}.json`),
  };
}
