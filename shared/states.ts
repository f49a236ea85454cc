/**
 * The worker's and each work item's state, shared by the core and every view: each a zod
 * schema, its type inferred from it. One class writes each (Worker, ItemRun); everyone else subscribes.
 */
import { z } from 'zod';

const count = z.number().int().nonnegative();

/**
 * Why an online worker is not claiming right now; absent when it is claiming.
 * asleep: the machine is going to sleep or has just woken and is checking its leases.
 * on-battery: the machine runs on battery and the settings say to claim nothing then (running sessions finish).
 */
export const claimBlockSchema = z.enum(['full', 'docker-unavailable', 'asleep', 'on-battery']);
export type ClaimBlock = z.infer<typeof claimBlockSchema>;

export const workerStateSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('off') }),
  /** Until the first claim can happen: waiting for Docker, startup recovery, the session image. `detail` says which. */
  z.object({ status: z.literal('starting'), detail: z.string().optional() }),
  z.object({ status: z.literal('online'), active: count, blockedBy: claimBlockSchema.optional(), detail: z.string().optional() }),
  z.object({ status: z.literal('paused'), active: count }),
  z.object({ status: z.literal('draining'), active: count, deadline: z.number() }),
  z.object({ status: z.literal('stopping'), active: count }),
  /** Stopped on an error the user must fix; `keyRefused` when the control plane refused the key (401, 403). */
  z.object({ status: z.literal('error'), message: z.string(), keyRefused: z.boolean().optional() }),
]);
export type WorkerState = z.infer<typeof workerStateSchema>;

export const ITEM_STATUSES = ['claimed', 'starting', 'running', 'stopping', 'finished', 'failed', 'lost'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];
/** The statuses an item never leaves: it is over, and the history keeps it. */
export const TERMINAL_STATUSES: ReadonlySet<ItemStatus> = new Set(['finished', 'failed', 'lost']);

export function isTerminal(status: ItemStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export const itemStateSchema = z.object({
  workId: z.string(),
  environmentId: z.string(),
  /** session: an Anthropic session; healthcheck: answered without a container; script: a Bridge code_execution item. */
  kind: z.enum(['session', 'healthcheck', 'script']),
  /** The session id for session items, the healthcheck id otherwise. */
  subjectId: z.string(),
  status: z.enum(ITEM_STATUSES),
  claimedAt: z.number(),
  updatedAt: z.number(),
  containerId: z.string().optional(),
  exitCode: z.number().optional(),
  /** Why the item ended, in words: "exited 0", "stopped by the control plane", "lease lost: …". */
  reason: z.string().optional(),
  logFile: z.string().optional(),
});
export type ItemState = z.infer<typeof itemStateSchema>;
export type ItemKind = ItemState['kind'];

export type WorkerEvent = { type: 'worker-state'; state: WorkerState } | { type: 'item-state'; item: ItemState };
