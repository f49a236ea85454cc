import { readFileSync, rmSync } from 'node:fs';
import { isStatus } from '@anthropic-ai/sdk/lib/environments/index';
import type { Logger } from '../log.js';
import { InstanceRecord, type DataPaths } from '../paths.js';
import { describeApiError, type AnthropicProvider } from '../providers/anthropic.js';
import type { WorkerContext } from './supervisor.js';
import { LABEL } from '../runtime/labels.js';

export interface SweepResult {
  removed: string[];
  stopped: string[];
}

/**
 * Startup recovery, before the first poll: containers this install started from a
 * process that has since died are removed, and their items force-stopped when the
 * lease is still ours — proven by echoing the last heartbeat we recorded. A 412 means
 * the lease moved on (expired and reclaimed), so the item is left to its new holder.
 */
export async function sweepOrphans(deps: WorkerContext): Promise<SweepResult> {
  const { runtime, provider, paths, logger } = deps;
  const result: SweepResult = { removed: [], stopped: [] };
  InstanceRecord.prune(paths);
  for (const container of await runtime.listOutpostContainers(deps.installId)) {
    const owner = container.labels[LABEL.instance] ?? '';
    if (owner === deps.instanceId || InstanceRecord.isAlive(paths, owner)) continue;
    const workId = container.labels[LABEL.workId] ?? '';
    const environmentId = container.labels[LABEL.environmentId] ?? '';
    await runtime.removeContainer(container.id);
    result.removed.push(container.id);
    logger.info('removed a container left by an Outpost that stopped unexpectedly', {
      work_id: workId,
      container: container.id.slice(0, 12),
    });
    if (environmentId === provider.environmentId && (await stopIfLeaseHeld(provider, paths, workId, environmentId, logger))) {
      result.stopped.push(workId);
    }
  }
  return result;
}

async function stopIfLeaseHeld(
  provider: AnthropicProvider,
  paths: DataPaths,
  workId: string,
  environmentId: string,
  logger: Logger,
): Promise<boolean> {
  const file = paths.leaseFile(workId);
  let lastHeartbeat: string;
  try {
    lastHeartbeat = (JSON.parse(readFileSync(file, 'utf8')) as { lastHeartbeat: string }).lastHeartbeat;
  } catch {
    // No beat was ever recorded: the lease was never ours to keep.
    return false;
  }
  const channel = provider.recoveryChannel(workId, environmentId);
  try {
    await channel.heartbeat(lastHeartbeat, AbortSignal.timeout(10_000));
    await channel.forceStop();
    logger.info('stopped the work item of a container left behind', { work_id: workId });
    return true;
  } catch (e) {
    // 412: another worker holds it now; 409: the lease lapsed and the item went back to the queue.
    if (isStatus(e, 412) || isStatus(e, 409)) logger.info('left a recovered work item alone: its lease has moved on', { work_id: workId });
    else logger.warn('could not stop a recovered work item', { work_id: workId, error: describeApiError(e) });
    return false;
  } finally {
    rmSync(file, { force: true });
  }
}
