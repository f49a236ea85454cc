import { isControlPlaneId } from '../../../shared/ids.js';
import { InstanceRecord } from '../paths.js';
import { LABEL } from '../runtime/labels.js';
import { defuseWorkspace } from '../runtime/workspace.js';
import type { ClaimStore, StoredClaim } from './claims.js';
import type { WorkerContext } from './supervisor.js';

export interface SweepResult {
  removed: string[];
  stopped: string[];
}

/**
 * Startup recovery, before the first poll: containers this install started from a
 * process that has since died are removed, and the items that process claimed are
 * stopped where they are still ours — the control plane decides how to prove that
 * (Anthropic: echo the last heartbeat we recorded; a lease that moved on is left to
 * its new holder). Several processes may share the data folder (the desktop app and a
 * headless worker, or one per environment): what a live one holds is never touched.
 */
export async function sweepOrphans(deps: WorkerContext, claims: ClaimStore): Promise<SweepResult> {
  const { runtime, provider, paths, logger } = deps;
  const result: SweepResult = { removed: [], stopped: [] };
  InstanceRecord.prune(paths);
  const orphaned = (owner: string | undefined) => owner === undefined || (owner !== deps.instanceId && !InstanceRecord.isAlive(paths, owner));
  for (const container of await runtime.listOutpostContainers(deps.installId)) {
    if (!orphaned(container.labels[LABEL.instance] ?? '')) continue;
    if (container.labels[LABEL.environmentId] !== provider.environmentId) continue; // another environment's worker sweeps it
    await runtime.removeContainer(container.id);
    result.removed.push(container.id);
    // Its process died before it could defuse what the session left (supervisor.ts does it after a session).
    const workId = container.labels[LABEL.workId];
    if (isControlPlaneId(workId)) defuseWorkspace(paths.workspace(workId));
    logger.info('removed a container left by an Outpost that stopped unexpectedly', {
      work_id: container.labels[LABEL.workId] ?? '',
      container: container.id.slice(0, 12),
    });
  }
  // Every claim a dead process left in this environment, whether its container was just removed or was already gone.
  for (const claim of claims.list()) {
    if (claim.environmentId === provider.environmentId && orphaned(claim.instanceId)) await recoverClaim(deps, claims, claim, result);
  }
  return result;
}

/** Stop a claimed item a dead process held, where the lease is still ours; then forget the claim. */
async function recoverClaim({ provider, logger }: WorkerContext, claims: ClaimStore, claim: StoredClaim, result: SweepResult): Promise<void> {
  const workId = claim.workId;
  try {
    if ((await provider.recover(claim)) === 'stopped') {
      result.stopped.push(workId);
      logger.info('stopped the work item of a container left behind', { work_id: workId });
    } else {
      logger.info('left a recovered work item alone: its lease has moved on', { work_id: workId });
    }
  } catch (e) {
    logger.warn('could not stop a recovered work item', { work_id: workId, error: provider.describe(e) });
  } finally {
    claims.forget(workId);
  }
}
