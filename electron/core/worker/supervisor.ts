import { randomBytes } from 'node:crypto';
import type { EgressConnection } from '../../../shared/contract.js';
import type { ItemState, ItemStatus } from '../../../shared/states.js';
import type { SessionEgress } from '../runtime/session-egress.js';
import type { Logger } from '../logs/log.js';
import type { DataPaths } from '../store/paths.js';
import { checkedName } from '../store/paths.js';
import type { ContainerWork, ControlPlane, ItemLifecycle, ItemOutcome, WorkItem } from '../providers/control-plane.js';
import type { ImageInfo, RunningSession, SessionRuntime } from '../runtime/session-runtime.js';
import { HANDOVER_NAMES, LABEL, takesHandover } from '../runtime/labels.js';
import { sessionUser, type SessionUser } from '../runtime/workspace.js';
import { defuseAfterSession } from './workspace-defuse.js';
import { aborted } from '../base/timing.js';
import type { Claim, ClaimStore } from './claims.js';
import type { Secret } from '../secrets/secret.js';
import type { SessionSettings } from './session-settings.js';
import type { WarmContainer } from './warm-pool.js';

/** What the worker, each item run and startup recovery share: the world they act on, and who they are. */
export interface WorkerContext {
  provider: ControlPlane;
  runtime: SessionRuntime;
  paths: DataPaths;
  logger: Logger;
  /** Labels this install's containers (one per data folder). */
  installId: string;
  /** Labels this process's containers. */
  instanceId: string;
  /** Each connection a session opened through its egress proxy. */
  onEgress?: (connection: EgressConnection) => void;
}

/** How long the final report of an item may take once the worker was told to stop now. */
const LAST_REPORT_MS = 3_000;

export interface ItemRunDeps extends WorkerContext {
  claims: ClaimStore;
  settings: SessionSettings;
  /** The worker's "stop now": aborts this item's control-plane calls in flight. */
  stopNow: AbortSignal;
  onChange: (item: ItemState) => void;
  /** A warm container taken from the pool for this item (ready, or still starting); this run owns it. */
  warm?: Promise<WarmContainer | undefined>;
}

type Ending = { status: ItemStatus; reason: string; exitCode?: number; outcome: ItemOutcome };

/**
 * Owns one claimed work item from claim to end: its life on the control plane (for
 * Anthropic, the lease — started first, before the image check or container create,
 * which can be slow), its container, and its final report.
 * claimed → starting → running → stopping → finished | failed | lost.
 */
export class ItemRun {
  #state: ItemState;
  readonly #deps: ItemRunDeps;
  readonly #work: WorkItem;
  readonly #stopCtrl = new AbortController();
  #stopReason = '';
  #life: ItemLifecycle | undefined;
  #claim: Claim | undefined;
  readonly done: Promise<ItemState>;

  constructor(deps: ItemRunDeps, work: WorkItem, claimedAt: number) {
    this.#deps = deps;
    this.#work = work;
    this.#state = {
      workId: work.id,
      environmentId: work.environmentId,
      kind: work.kind === 'unsupported' ? 'script' : work.kind,
      subjectId: work.subjectId,
      status: 'claimed',
      claimedAt,
      updatedAt: claimedAt,
      ...(work.kind === 'session' || work.kind === 'script' ? { logFile: deps.paths.sessionLog(work.environmentId, work.id) } : {}),
    };
    this.done = this.#run();
  }

  get state(): ItemState {
    return this.#state;
  }

  /** Confirm with the control plane that the item is still ours (after a sleep), before claiming more. */
  checkLease(): Promise<void> {
    return this.#life?.checkNow() ?? Promise.resolve();
  }

  /** The control plane handed this item out again: let go of it as lost (its container killed, nothing reported). */
  surrender(detail: string): void {
    this.#life?.surrender(detail);
  }

  /** Stop the session now: SIGTERM, the grace period, SIGKILL; the item is then reported stopped. */
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
    const { provider, logger, claims, instanceId } = this.#deps;
    const work = this.#work;
    // Startup recovery reads this to stop the item if this process dies holding it.
    const claim = claims.open({ workId: work.id, environmentId: work.environmentId, provider: provider.provider, instanceId });
    this.#claim = claim;
    const life = provider.open(work, (update) => claim.update(update));
    this.#life = life;
    this.#set('starting');
    let ending: Ending;
    try {
      if (work.kind === 'unsupported') ending = stopped(`unsupported work type ${work.subjectId}; not run`);
      else if (work.kind === 'healthcheck') ending = await this.#healthcheck();
      else ending = await this.#runContainer(life);
    } catch (e) {
      const reason = provider.describe(e);
      logger.error('work item failed', { work_id: work.id, error: reason });
      ending = { status: 'failed', reason, outcome: { kind: 'failed', reason } };
    }
    // A warm container taken and not used (a healthcheck, a failure before the handover) is gone before the item ends.
    await this.#discardWarm();
    if (life.end === 'lost') {
      ending = { ...ending, status: 'lost', reason: life.detail };
      logger.warn('lease lost; leaving the work item to its new holder', { work_id: work.id });
    }
    // The stop is still sent after a stop-now (the item would otherwise wait out its lease), but briefly, with no long retry.
    const { stopNow } = this.#deps;
    await life.finish(ending.outcome, stopNow.aborted ? AbortSignal.timeout(LAST_REPORT_MS) : stopNow);
    claim.release();
    this.#set(ending.status, { reason: ending.reason, ...(ending.exitCode !== undefined ? { exitCode: ending.exitCode } : {}) });
    logger.info('work item ended', { work_id: work.id, status: ending.status, reason: ending.reason });
    return this.#state;
  }

  async #healthcheck(): Promise<Ending> {
    await this.#deps.runtime.ping();
    await this.#deps.provider.checkReachable(AbortSignal.any([this.#stopCtrl.signal, this.#deps.stopNow]));
    const reason = 'healthcheck passed: Docker and the API answer';
    return { status: 'finished', reason, outcome: { kind: 'exited', exitCode: 0, stdout: '', stderr: '', truncated: false, durationMs: 0 } };
  }

  /** A warm container this run will not use: removed (awaited, so the machine never holds more than --max-sessions). */
  async #discardWarm(): Promise<void> {
    const warm = await this.#deps.warm;
    this.#deps.warm = undefined;
    await warm?.discard().catch((e: Error) => this.#deps.logger.warn('could not remove a warm container', { error: e.message }));
  }

  async #runContainer(life: ItemLifecycle): Promise<Ending> {
    const { runtime, settings, paths, logger } = this.#deps;
    const work = this.#work;
    const spec = life.container();
    const timeout = spec.timeoutMs ? AbortSignal.timeout(spec.timeoutMs) : undefined;
    const interrupted = AbortSignal.any([life.signal, this.#stopCtrl.signal, ...(timeout ? [timeout] : [])]);
    // Only an item that needs nothing but its environment can be handed to a runner already waiting.
    if (this.#deps.warm && !spec.cmd && !spec.files && !spec.captureBytes) {
      const served = await this.#runWarm(life, spec, interrupted, timeout);
      if (served) return served;
    }
    await this.#discardWarm();
    const image = await runtime.ensureImage(settings.image, interrupted);
    // Nothing starts on a lease not yet confirmed ours: if it lapsed meanwhile, another worker may be running the item.
    const ours = await Promise.race([life.ready(), aborted(interrupted).then(() => false)]);
    if (!ours || interrupted.aborted) return this.#interruptedEnding(life, timeout);

    const workspace = paths.workspace(work.environmentId, work.id);
    const user = sessionUser(settings.allowRoot ?? false);
    if (user.uid === 0) logger.warn('this session runs as root in its container: the environment profile allows it (allowRoot)', { work_id: work.id });
    // The id was checked where it came in (the provider's poll); checkedName checks it again.
    const name = `outpost-${checkedName(work.id)}-${randomBytes(3).toString('hex')}`;
    const labels = {
      [LABEL.workId]: work.id,
      [LABEL.environmentId]: work.environmentId,
      [LABEL.sessionId]: work.subjectId,
      [LABEL.instance]: this.#deps.instanceId,
      [LABEL.install]: this.#deps.installId,
    };
    const egress = await runtime.openEgress({
      settings: settings.egress ?? { policy: 'open', allowHosts: [] },
      openNetworkMode: settings.networkMode,
      ...(spec.apiBaseUrl ? { apiBaseUrl: spec.apiBaseUrl } : {}),
      name: `${name}-egress`,
      labels,
      user: sessionUser(false),
      workId: work.id,
      logFile: paths.sessionLog(work.environmentId, work.id),
      recordFile: paths.sessionEgress(work.environmentId, work.id),
      ...(this.#deps.onEgress ? { onConnection: this.#deps.onEgress } : {}),
    });
    let container: RunningSession;
    try {
      container = await this.#startSession(egress, image, { name, labels, workspace, user, spec });
    } catch (e) {
      await egress.close();
      // A container that did not take its handover ran before it was removed: what it left is defused too.
      await this.#defuseWorkspace();
      throw e;
    }
    const startedAt = Date.now();
    this.#set('running', { containerId: container.id });
    logger.info('session running', { work_id: work.id, [`${work.kind}_id`]: work.subjectId, container: container.id.slice(0, 12) });
    for (const warning of container.warnings) logger.warn(`the Docker engine warned when creating the session's container: ${warning}`, { work_id: work.id });
    try {
      return await this.#superviseContainer(container, life, interrupted, timeout, startedAt);
    } finally {
      await egress.close().catch((e: Error) => logger.error('could not remove the session’s egress sidecar', { work_id: work.id, error: e.message }));
    }
  }

  /**
   * A cold start. When the image takes a handover (its entrypoint is the keeper: labels.ts) and the
   * item brings nothing but variables the runner accepts there, the item's ids and token go to the
   * keeper on stdin, as to a warm one, not into the environment (`docker inspect`, /proc/1/environ):
   * the lease is confirmed by now. Its stdin then closes with Outpost's attach and the keeper ends the
   * container, so the session ends when Outpost is killed and not restarted, whatever the session does
   * (the fleet soak: else it answers on after the lease lapsed and another worker took the item).
   * Bridge scripts and other images get the item's variables in the environment.
   */
  #startSession(
    egress: SessionEgress,
    image: ImageInfo,
    { name, labels, workspace, user, spec }: { name: string; labels: Record<string, string>; workspace: string; user: SessionUser; spec: ContainerWork },
  ): Promise<RunningSession> {
    const { runtime, settings, paths, logger } = this.#deps;
    const work = this.#work;
    const profileEnv = revealed(settings.env ?? {});
    const handover =
      takesHandover(image) && !spec.cmd && !spec.files && !spec.captureBytes && Object.keys(spec.env).every((n) => HANDOVER_NAMES.has(n));
    return runtime.start({
      image: settings.image,
      name,
      labels,
      // Outpost's own variables win: the item's ids and token, and the proxy's. Handed over, the item's
      // names stay out of the environment altogether: a profile cannot name them (shared/contract.ts), but
      // one that did would send the runner down its environment path, and there say other than the item.
      env: handover ? { ...without(profileEnv, Object.keys(spec.env)), ...egress.env } : { ...profileEnv, ...spec.env, ...egress.env },
      ...(handover ? { handover: spec.env } : {}),
      ...(settings.mounts?.requested.length ? { readOnlyMounts: settings.mounts } : {}),
      ...(spec.cmd ? { cmd: spec.cmd } : {}),
      ...(spec.captureBytes ? { captureBytes: spec.captureBytes } : {}),
      workspaceDir: workspace,
      user,
      ...(spec.files ? { files: spec.files } : {}),
      logFile: paths.sessionLog(work.environmentId, work.id),
      networkMode: egress.networkMode,
      limits: settings.limits,
      onLogError: (e) => logger.error('cannot write the session log; its output is being lost', { work_id: work.id, error: e.message }),
    });
  }

  /**
   * Serve the item in a warm container. Nothing but the lease is waited for: the pool
   * checked its image (pool.ts), and the new name — Docker's own record of which item runs where —
   * is given beside the first heartbeat. Once the lease is confirmed (as for a cold start: no session
   * before), the workspace and log become the item's and the item goes to the keeper on stdin.
   * Undefined: the container could not be used (it died, an earlier run's files): start cold.
   */
  async #runWarm(life: ItemLifecycle, spec: ContainerWork, interrupted: AbortSignal, timeout: AbortSignal | undefined): Promise<Ending | undefined> {
    const { logger, paths } = this.#deps;
    const work = this.#work;
    const warm = await this.#deps.warm;
    if (!warm) return undefined;
    // Its proxy variables were fixed before the item: an item whose API is another name of this machine's goes cold.
    if (warm.egress && !warm.egress.serves(spec.apiBaseUrl)) return undefined;
    this.#claim?.servedBy(warm.warmName);
    const renamed = warm.rename(work.id).catch((e: Error) => logger.warn('could not rename a warm container for its item', { work_id: work.id, error: e.message }));
    const ours = await Promise.race([life.ready(), aborted(interrupted).then(() => false)]);
    if (!ours || interrupted.aborted) {
      await renamed;
      await this.#discardWarm();
      return this.#interruptedEnding(life, timeout);
    }
    if (!warm.adoptFiles(work.environmentId, work.id)) return undefined;
    this.#deps.warm = undefined;
    const container = warm.container;
    // The item's egress from here on: its API origin allowed, its connections in its log.
    warm.egress?.bind({
      ...(spec.apiBaseUrl ? { apiBaseUrl: spec.apiBaseUrl } : {}),
      workId: work.id,
      logFile: paths.sessionLog(work.environmentId, work.id),
      recordFile: paths.sessionEgress(work.environmentId, work.id),
      ...(this.#deps.onEgress ? { onConnection: this.#deps.onEgress } : {}),
    });
    try {
      await container.handOver(spec.env);
    } catch (e) {
      // The runner is gone: nothing was served, the lease is ours; a cold start serves it.
      logger.warn('a warm container did not take its item; starting cold', { work_id: work.id, error: (e as Error).message });
      await renamed;
      await container.remove();
      await warm.egress?.close();
      paths.settleWorkspace(work.environmentId, work.id);
      return undefined;
    }
    const startedAt = Date.now();
    this.#set('running', { containerId: container.id });
    logger.info('session running', { work_id: work.id, [`${work.kind}_id`]: work.subjectId, container: container.id.slice(0, 12), warm: true });
    for (const warning of container.warnings) logger.warn(`the Docker engine warned when creating the session's container: ${warning}`, { work_id: work.id });
    await renamed;
    try {
      return await this.#superviseContainer(container, life, interrupted, timeout, startedAt);
    } finally {
      await warm.egress?.close().catch((e: Error) => logger.error('could not remove the session’s egress sidecar', { work_id: work.id, error: e.message }));
    }
  }

  async #superviseContainer(
    container: RunningSession,
    life: ItemLifecycle,
    interrupted: AbortSignal,
    timeout: AbortSignal | undefined,
    startedAt: number,
  ): Promise<Ending> {
    const exitedFirst = await Promise.race([container.exited.then(() => true), aborted(interrupted).then(() => false)]);
    try {
      if (exitedFirst) {
        const exitCode = await container.exited;
        await container.remove();
        return {
          status: exitCode === 0 ? 'finished' : 'failed',
          reason: `exited ${exitCode}`,
          exitCode,
          outcome: { kind: 'exited', exitCode, ...container.output(), durationMs: Date.now() - startedAt },
        };
      }
      if (life.end === 'lost') {
        // Someone else may be serving this item already: end ours at once.
        await container.kill();
      } else {
        this.#set('stopping');
        await container.stop(this.#deps.settings.graceSeconds);
      }
      await container.exited;
      return this.#interruptedEnding(life, timeout);
    } finally {
      await container.remove();
      // Served warm, its workspace is still under the warm container's name: now that nothing has it mounted, the item's.
      this.#deps.paths.settleWorkspace(this.#work.environmentId, this.#work.id);
      await this.#defuseWorkspace();
    }
  }

  /** The container is gone: nothing it left in the workspace may be a device node or a setuid file (workspace-defuse.ts). */
  #defuseWorkspace(): Promise<void> {
    return defuseAfterSession(this.#deps, this.#deps.paths.workspace(this.#work.environmentId, this.#work.id), this.#work.id);
  }

  #interruptedEnding(life: ItemLifecycle, timeout: AbortSignal | undefined): Ending {
    if (life.end === 'rejected') return { status: 'failed', reason: life.detail, outcome: { kind: 'failed', reason: life.detail } };
    if (life.end) return stopped(life.detail);
    if (timeout?.aborted && !this.#stopCtrl.signal.aborted) return stopped('timeout exceeded');
    return stopped(`stopped: ${this.#stopReason}`);
  }
}

function revealed(env: Record<string, string | Secret>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, typeof value === 'string' ? value : value.reveal()]));
}

function without(env: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));
}

function stopped(reason: string): Ending {
  return { status: 'finished', reason, outcome: { kind: 'stopped', reason } };
}
