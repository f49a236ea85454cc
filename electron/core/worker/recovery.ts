import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InstanceRecord } from '../paths.js';
import { LABEL } from '../runtime/labels.js';
import { readClaimRecord, type WorkerContext } from './supervisor.js';

export interface SweepResult {
  removed: string[];
  stopped: string[];
}

/**
 * Startup recovery, before the first poll: containers this install started from a
 * process that has since died are removed, and their items stopped where they are
 * still ours — the control plane decides how to prove that (Anthropic: echo the last
 * heartbeat we recorded; a lease that moved on is left to its new holder).
 */
export async function sweepOrphans(deps: WorkerContext): Promise<SweepResult> {
  const { runtime, provider, paths, logger } = deps;
  const result: SweepResult = { removed: [], stopped: [] };
  InstanceRecord.prune(paths);
  for (const container of await runtime.listOutpostContainers(deps.installId)) {
    const owner = container.labels[LABEL.instance] ?? '';
    if (owner === deps.instanceId || InstanceRecord.isAlive(paths, owner)) continue;
    const workId = container.labels[LABEL.workId] ?? '';
    if (container.labels[LABEL.environmentId] !== provider.environmentId) continue; // another environment's worker sweeps it
    await runtime.removeContainer(container.id);
    result.removed.push(container.id);
    logger.info('removed a container left by an Outpost that stopped unexpectedly', { work_id: workId, container: container.id.slice(0, 12) });
    await recoverClaim(deps, paths.leaseFile(workId), result);
  }
  // Claims whose container is already gone (it ended, or was removed, while no Outpost ran): still ours to stop.
  for (const name of readdirSync(paths.leases)) {
    const file = join(paths.leases, name);
    if (readClaimRecord(file)?.environmentId === provider.environmentId) await recoverClaim(deps, file, result);
  }
  return result;
}

/** Stop a claimed item an earlier process held, where the lease is still ours; then forget the claim. */
async function recoverClaim({ provider, logger }: WorkerContext, file: string, result: SweepResult): Promise<void> {
  const claim = readClaimRecord(file);
  if (!claim) return;
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
    rmSync(file, { force: true });
  }
}
