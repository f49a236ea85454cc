import type { ItemKind } from '../../../shared/states.js';

/**
 * What the core needs of a control plane, so that the poll loop, the supervisor, the
 * Docker runtime and the views need no `if provider ===` branches. Anthropic's
 * self-hosted environments and AINative's Bridge environments implement it.
 */
export interface ControlPlane {
  readonly provider: 'anthropic' | 'ainative';
  readonly environmentId: string;
  /** One poll. `idleMs`: how long to wait before the next poll when nothing came. */
  poll(signal: AbortSignal): Promise<{ work: WorkItem | null; idleMs?: number }>;
  /** Take a polled item (Anthropic: ack). A failure skips the item. `signal`: the worker's "stop now" (not a drain). */
  accept(work: WorkItem, signal: AbortSignal): Promise<void>;
  /** The item's life on the control plane, from claim to its final report. */
  open(work: WorkItem, record: ClaimRecorder): ItemLifecycle;
  /** A cheap authenticated call: is the control plane there? (healthcheck items) */
  checkReachable(signal: AbortSignal): Promise<void>;
  /** Environment-level upkeep for as long as the worker runs (Bridge: heartbeat, reconnect). Throws a fatal error. */
  keepAlive?(signal: AbortSignal): Promise<void>;
  /** A second stop request (stop-now): end every request under way at once; what it carried must survive (Bridge: on disk). */
  abortInFlight?(): void;
  /** Startup recovery of an item whose container outlived its Outpost: stop it if it is still ours. */
  recover(claim: ClaimRecord, signal: AbortSignal): Promise<'stopped' | 'left'>;
  /** Refused for good (a wrong key, an unknown environment): stop instead of retrying. */
  isFatal(error: unknown): boolean;
  /** The error in words: status, the API's own message; never a credential. */
  describe(error: unknown): string;
}

/** A poll body that is not a work item: logged and survived, never trusted. Any provider may throw it. */
export class MalformedWorkError extends Error {
  override name = 'MalformedWorkError';
}

export interface WorkItem {
  id: string;
  environmentId: string;
  /** 'unsupported' items are stopped with a reason, never run. */
  kind: ItemKind | 'unsupported';
  /** Session id, healthcheck id, or the Bridge work type. */
  subjectId: string;
}

/** What a control plane tells a restarted Outpost about an item it held (kept in the data folder; no secrets). */
export interface ClaimRecord {
  workId: string;
  environmentId: string;
  provider: string;
  lastHeartbeat?: string;
}
/** What a provider may add to its item's claim record as the item goes on. */
export type ClaimUpdate = Pick<ClaimRecord, 'lastHeartbeat'>;
export type ClaimRecorder = (update: ClaimUpdate) => void;

/** What the item's container runs, beyond the environment's image and limits. */
export interface ContainerWork {
  env: Record<string, string>;
  /** The control plane the container itself calls (Anthropic: the session runner's API): its egress policy lets it through. */
  apiBaseUrl?: string;
  /** Replaces the image's command (the entrypoint stays). */
  cmd?: string[];
  /** Files written into the workspace before start, by name. */
  files?: Record<string, string>;
  /** Keep stdout and stderr apart and in memory, up to this many bytes each, for the result. */
  captureBytes?: number;
  /** Stop it after this long. */
  timeoutMs?: number;
}

export type ItemOutcome =
  | { kind: 'exited'; exitCode: number; stdout: string; stderr: string; truncated: boolean; durationMs: number }
  | { kind: 'stopped'; reason: string }
  | { kind: 'failed'; reason: string };

/** Why the control plane ended an item before it finished: stop it, or (lost) let it go untouched. */
export type LifecycleEnd = 'stop-requested' | 'lost' | 'rejected';

export interface ItemLifecycle {
  /** Aborts when the control plane wants the item stopped or it is no longer ours. */
  readonly signal: AbortSignal;
  readonly end: LifecycleEnd | undefined;
  readonly detail: string;
  container(): ContainerWork;
  /** True once the control plane confirmed the item is ours (Anthropic: the first heartbeat); false if it ended first. No container starts before. */
  ready(): Promise<boolean>;
  /** The control plane handed the item out again: let go of it as lost (kill, report nothing). */
  surrender(detail: string): void;
  /** Confirm now that the item is still ours (after a sleep). */
  checkNow(): Promise<void>;
  /** Report how the item ended and let go of it (unless it was lost). `signal` bounds the report (the worker's "stop now"). */
  finish(outcome: ItemOutcome, signal: AbortSignal): Promise<void>;
}

/**
 * Why a connection failed, in the system's own word (ECONNREFUSED, ENOTFOUND, a TLS error…): fetch and
 * the SDK wrap it in "fetch failed" / "Connection error." causes, which alone name nothing.
 */
export function connectionCause(error: unknown): string | null {
  let found: string | null = null;
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') found = code;
    else if (!found && e.cause === undefined && e !== error) found = e.message;
  }
  return found;
}
