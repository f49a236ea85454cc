import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import type { ItemState, ItemStatus } from '../../../shared/states.js';
import type { Logger } from '../log.js';
import type { DataPaths } from '../paths.js';
import { safeName } from '../paths.js';
import type { AnthropicProvider, ClaimedWork } from '../providers/anthropic.js';
import { describeApiError } from '../providers/anthropic.js';
import type { ContainerLimits, DockerRuntime, SessionContainer } from '../runtime/docker.js';
import { LABEL } from '../runtime/labels.js';
import { aborted } from '../timing.js';
import { LeaseKeeper } from './lease.js';

export interface SessionSettings {
  image: string;
  networkMode: string;
  limits: ContainerLimits;
  /** Seconds between SIGTERM and SIGKILL when a session is stopped. */
  graceSeconds: number;
}

/** What the worker, each item run and startup recovery share: the world they act on, and who they are. */
export interface WorkerContext {
  provider: AnthropicProvider;
  runtime: DockerRuntime;
  paths: DataPaths;
  logger: Logger;
  /** Labels this install's containers (one per data folder). */
  installId: string;
  /** Labels this process's containers. */
  instanceId: string;
}

export interface ItemRunDeps extends WorkerContext {
  settings: SessionSettings;
  onChange: (item: ItemState) => void;
}

/**
 * Owns one claimed work item from claim to end: its lease, its container, and the
 * final stop. claimed → starting → running → stopping → finished | failed | lost.
 * The lease starts first, before the image check or container create, which can be slow.
 */
export class ItemRun {
  #state: ItemState;
  readonly #deps: ItemRunDeps;
  readonly #work: ClaimedWork;
  readonly #stopCtrl = new AbortController();
  #stopReason = '';
  #lease: LeaseKeeper | undefined;
  readonly done: Promise<ItemState>;

  constructor(deps: ItemRunDeps, work: ClaimedWork, claimedAt: number) {
    this.#deps = deps;
    this.#work = work;
    this.#state = {
      workId: work.id,
      environmentId: work.environmentId,
      kind: work.kind,
      subjectId: work.subjectId,
      status: 'claimed',
      claimedAt,
      updatedAt: claimedAt,
      ...(work.kind === 'session' ? { logFile: deps.paths.sessionLog(work.id) } : {}),
    };
    this.done = this.#run();
  }

  get state(): ItemState {
    return this.#state;
  }

  /** Heartbeat now and wait for the answer: after a sleep, learn whether the lease survived before claiming more. */
  checkLease(): Promise<void> {
    return this.#lease?.checkNow() ?? Promise.resolve();
  }

  /** Stop the session now: SIGTERM, the grace period, SIGKILL; the item is then force-stopped. */
  stop(reason: string): void {
    if (this.#stopCtrl.signal.aborted) return;
    this.#stopReason = reason;
    this.#stopCtrl.abort();
  }

  #set(status: ItemStatus, extra: Partial<ItemState> = {}): void {
    this.#state = { ...this.#state, ...extra, status, updatedAt: Date.now() };
    this.#deps.onChange(this.#state);
  }

  async #run(): Promise<ItemState> {
    const { provider, logger, paths } = this.#deps;
    const work = this.#work;
    const channel = provider.itemChannel(work);
    const leaseFile = paths.leaseFile(work.id);
    const lease = new LeaseKeeper({
      channel,
      workId: work.id,
      logger,
      // Startup recovery echoes this to prove the lease is still ours after a crash.
      onBeat: (lastHeartbeat) =>
        writeFileSync(leaseFile, JSON.stringify({ workId: work.id, environmentId: work.environmentId, lastHeartbeat })),
    });
    this.#lease = lease;
    this.#set('starting');
    let outcome: { status: ItemStatus; reason: string; exitCode?: number };
    try {
      outcome = work.kind === 'healthcheck' ? await this.#healthcheck() : await this.#serveSession(lease);
    } catch (e) {
      const reason = describeApiError(e);
      logger.error('work item failed', { work_id: work.id, error: reason });
      outcome = { status: 'failed', reason };
    }
    await lease.release();
    if (lease.lost) {
      outcome = { ...outcome, status: 'lost', reason: lease.detail };
      logger.warn('lease lost; leaving the work item to its new holder', { work_id: work.id });
    } else {
      try {
        await channel.forceStop();
      } catch (e) {
        logger.error('could not stop the work item', { work_id: work.id, error: describeApiError(e) });
      }
    }
    rmSync(leaseFile, { force: true });
    this.#set(outcome.status, {
      reason: outcome.reason,
      ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    });
    logger.info('work item ended', { work_id: work.id, status: outcome.status, reason: outcome.reason });
    return this.#state;
  }

  async #healthcheck(): Promise<{ status: ItemStatus; reason: string }> {
    await this.#deps.runtime.ping();
    await this.#deps.provider.checkReachable(this.#stopCtrl.signal);
    return { status: 'finished', reason: 'healthcheck passed: Docker and the API answer' };
  }

  async #serveSession(lease: LeaseKeeper): Promise<{ status: ItemStatus; reason: string; exitCode?: number }> {
    const { runtime, settings, paths, logger } = this.#deps;
    const work = this.#work;
    const interrupted = AbortSignal.any([lease.signal, this.#stopCtrl.signal]);
    await runtime.ensureImage(settings.image, interrupted);
    if (interrupted.aborted) return this.#interruptedOutcome(lease);

    if (!work.hasSessionsToken) {
      logger.warn('work item carried no sessions token; its container gets no credential', { work_id: work.id });
    }
    const container = await runtime.start({
      image: settings.image,
      name: `outpost-${safeName(work.id)}-${randomBytes(3).toString('hex')}`,
      labels: {
        [LABEL.workId]: work.id,
        [LABEL.environmentId]: work.environmentId,
        [LABEL.sessionId]: work.subjectId,
        [LABEL.instance]: this.#deps.instanceId,
        [LABEL.install]: this.#deps.installId,
      },
      env: this.#containerEnv(),
      workspaceDir: paths.workspace(work.id),
      logFile: paths.sessionLog(work.id),
      networkMode: settings.networkMode,
      limits: settings.limits,
      onLogError: (e) => logger.error('cannot write the session log; its output is being lost', { work_id: work.id, error: e.message }),
    });
    this.#set('running', { containerId: container.id });
    logger.info('session running', { work_id: work.id, session_id: work.subjectId, container: container.id.slice(0, 12) });
    return this.#superviseContainer(container, lease, interrupted);
  }

  async #superviseContainer(
    container: SessionContainer,
    lease: LeaseKeeper,
    interrupted: AbortSignal,
  ): Promise<{ status: ItemStatus; reason: string; exitCode?: number }> {
    const exitedFirst = await Promise.race([container.exited.then(() => true), aborted(interrupted).then(() => false)]);
    try {
      if (exitedFirst) {
        const exitCode = await container.exited;
        return { status: exitCode === 0 ? 'finished' : 'failed', reason: `exited ${exitCode}`, exitCode };
      }
      if (lease.lost) {
        // Someone else may be serving this session already: end ours at once.
        await container.kill();
      } else {
        this.#set('stopping');
        await container.stop(this.#deps.settings.graceSeconds);
      }
      await container.exited;
      return this.#interruptedOutcome(lease);
    } finally {
      await container.remove();
    }
  }

  #interruptedOutcome(lease: LeaseKeeper): { status: ItemStatus; reason: string } {
    if (lease.end === 'rejected') return { status: 'failed', reason: lease.detail };
    if (lease.end) return { status: 'finished', reason: lease.detail };
    return { status: 'finished', reason: `stopped: ${this.#stopReason}` };
  }

  /** The container's whole environment: the item's ids, its own token and the API base URL. Nothing else. */
  #containerEnv(): Record<string, string> {
    const work = this.#work;
    return {
      ANTHROPIC_BASE_URL: work.apiBaseUrl,
      ANTHROPIC_WORK_ID: work.id,
      ANTHROPIC_ENVIRONMENT_ID: work.environmentId,
      ANTHROPIC_SESSION_ID: work.subjectId,
      // Only the per-item token; the environment key it would otherwise fall back to stays on the host.
      ...(work.hasSessionsToken ? { ANTHROPIC_AUTH_TOKEN: work.itemCredential.reveal() } : {}),
    };
  }
}
