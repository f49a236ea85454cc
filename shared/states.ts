/**
 * The worker's and each work item's state, shared by the core and every view.
 * One class writes each (Worker, ItemRun); everyone else subscribes.
 */

export const WORKER_STATUSES = ['off', 'starting', 'online', 'paused', 'draining', 'stopping', 'error'] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** Why an online worker is not claiming right now; absent when it is claiming. */
export type ClaimBlock = 'full' | 'docker-unavailable';

export type WorkerState =
  | { status: 'off' }
  | { status: 'starting' }
  | { status: 'online'; active: number; blockedBy?: ClaimBlock; detail?: string }
  | { status: 'paused'; active: number }
  | { status: 'draining'; active: number; deadline: number }
  | { status: 'stopping'; active: number }
  | { status: 'error'; message: string };

export const ITEM_STATUSES = ['claimed', 'starting', 'running', 'stopping', 'finished', 'failed', 'lost'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** session: an Anthropic session; healthcheck: answered without a container; script: a Bridge code_execution item. */
export type ItemKind = 'session' | 'healthcheck' | 'script';

export interface ItemState {
  workId: string;
  environmentId: string;
  kind: ItemKind;
  /** The session id for session items, the healthcheck id otherwise. */
  subjectId: string;
  status: ItemStatus;
  claimedAt: number;
  updatedAt: number;
  containerId?: string;
  exitCode?: number;
  /** Why the item ended, in words: "exited 0", "stopped by the control plane", "lease lost: …". */
  reason?: string;
  logFile?: string;
}

export function isTerminal(status: ItemStatus): boolean {
  return status === 'finished' || status === 'failed' || status === 'lost';
}

export type WorkerEvent =
  | { type: 'worker-state'; state: WorkerState }
  | { type: 'item-state'; item: ItemState };
