import { isControlPlaneId } from '../../../shared/ids.js';
import { rmSync } from 'node:fs';
import { InstanceRecord, within } from '../store/paths.js';
import { LABEL } from '../runtime/labels.js';
import { defuseAfterSession } from './workspace-defuse.js';
import type { ClaimStore, StoredClaim } from './claims.js';
import type { WorkerContext } from './supervisor.js';
import { removeWarmFiles } from './warm-pool.js';

export interface SweepResult {
  removed: string[];
  stopped: string[];
  /** Containers and claims left because another Outpost holding them looks alive: swept again later, should it have died. */
  spared: number;
}

/**
 * Startup recovery, before the first poll: containers this install started from a
 * process that has since died are removed, whatever environment they served, and the
 * items that process claimed are stopped where they are still ours — the control plane
 * decides how to prove that (Anthropic: echo the last heartbeat we recorded; a lease
 * that moved on is left to its new holder). Several processes may share the data
 * folder (the desktop app and a headless worker, or one per environment): what a live
 * one holds is never touched. A claim of another environment needs that environment's
 * key to be stopped: it is kept, and said so, for a worker of that environment.
 */
export async function sweepOrphans(deps: WorkerContext, claims: ClaimStore, signal: AbortSignal): Promise<SweepResult> {
  const { runtime, provider, paths, logger } = deps;
  const result: SweepResult = { removed: [], stopped: [], spared: 0 };
  await InstanceRecord.prune(paths);
  const orphaned = async (owner: string | undefined) => owner === undefined || (owner !== deps.instanceId && !(await InstanceRecord.isAlive(paths, owner)));
  // A warm container's labels carry no work id: the claim of the item it was handed names it.
  const servedByWarm = new Map(claims.list().flatMap((c) => (c.warm ? [[c.warm, c.workId] as const] : [])));
  for (const container of await runtime.listOutpostContainers(deps.installId)) {
    // Whatever its environment: a worker of that environment may never run on this machine again.
    if (!(await orphaned(container.labels[LABEL.instance] ?? ''))) {
      if (container.labels[LABEL.instance] !== deps.instanceId) result.spared++;
      continue;
    }
    await runtime.removeContainer(container.id);
    result.removed.push(container.id);
    // The socket folder an older Outpost kept for an egress sidecar: its proxy died with that process.
    const egressDir = container.labels[LABEL.egressDir];
    if (egressDir && /^[0-9a-f]{12}$/.test(egressDir)) rmSync(within(paths.egress, egressDir), { recursive: true, force: true });
    const warm = container.labels[LABEL.warm];
    const environmentId = container.labels[LABEL.environmentId];
    const workId = container.labels[LABEL.workId] ?? (warm ? servedByWarm.get(warm) : undefined);
    // An item served warm has its workspace under the warm name, linked from its own: the item's now.
    if (isControlPlaneId(workId) && isControlPlaneId(environmentId)) paths.settleWorkspace(environmentId, workId);
    if (isControlPlaneId(warm) && isControlPlaneId(environmentId)) removeWarmFiles(paths, environmentId, warm);
    // Its process died before it could defuse what the session left (supervisor.ts does it after a session).
    if (isControlPlaneId(workId) && isControlPlaneId(environmentId)) await defuseAfterSession(deps, paths.workspace(environmentId, workId), workId);
    // An older Outpost named the workspace by the work id alone: defused too, until retention removes it.
    if (isControlPlaneId(workId)) await defuseAfterSession(deps, within(paths.workspaces, workId), workId);
    logger.info(`removed a ${warm && !workId ? 'warm container' : 'container'} left by an Outpost that stopped unexpectedly`, {
      work_id: workId ?? '',
      environment_id: container.labels[LABEL.environmentId] ?? '',
      container: container.id.slice(0, 12),
    });
  }
  // Every claim a dead process left, whether its container was just removed or was already gone.
  for (const claim of claims.list()) {
    if (signal.aborted) break;
    if (!(await orphaned(claim.instanceId))) {
      if (claim.instanceId !== deps.instanceId) result.spared++;
      continue;
    }
    if (claim.environmentId === provider.environmentId) await recoverClaim(deps, claims, claim, result, signal);
    else {
      logger.info(`left the claim on work ${claim.workId} for a worker of environment ${claim.environmentId}: only its key can stop the item`, {
        work_id: claim.workId,
        environment_id: claim.environmentId,
      });
    }
  }
  return result;
}

/** Stop a claimed item a dead process held, where the lease is still ours; then forget the claim. */
async function recoverClaim({ provider, logger }: WorkerContext, claims: ClaimStore, claim: StoredClaim, result: SweepResult, signal: AbortSignal): Promise<void> {
  const workId = claim.workId;
  try {
    if ((await provider.recover(claim, signal)) === 'stopped') {
      result.stopped.push(workId);
      logger.info('stopped the work item of a container left behind', { work_id: workId });
    } else {
      logger.info('left a recovered work item alone: its lease has moved on', { work_id: workId });
    }
  } catch (e) {
    logger.warn('could not stop a recovered work item', { work_id: workId, error: provider.describe(e) });
  } finally {
    claims.forget(claim);
  }
}
