import { backoff, jitter } from '@anthropic-ai/sdk/lib/environments/index';
import type { ClaimBlock, ItemState, WorkerEvent, WorkerState } from '../../../shared/states.js';
import { isTerminal } from '../../../shared/states.js';
import { Emitter } from '../base/emitter.js';
import { MalformedWorkError, type WorkItem } from '../providers/control-plane.js';
import { sleep } from '../base/timing.js';
import { ClaimStore } from './claims.js';
import { sessionKey } from '../store/paths.js';
import { sweepOrphans } from './recovery.js';
import type { SessionSettings } from './session-settings.js';
import { ItemRun, type WorkerContext } from './supervisor.js';
import { canWaitWarm, WarmPool } from './warm-pool.js';

const DOCKER_RETRY_MS = 2_000;
/** How often to look again at what a live-looking Outpost on the same data folder holds (its record is stale after 30 s). */
const SWEEP_AGAIN_MS = 10_000;
/**
 * A shutdown may take the drain and the sessions' grace, and this much more for the last reports; past that, what is
 * still in flight is cut off as by a second stop request, so the process is gone within drain + grace + 5 s whatever
 * a control plane does: a hung stop request must not hold a SIGTERM.
 */
const LAST_CALLS_MS = 3_000;

export interface WorkerOptions extends WorkerContext {
  maxSessions: number;
  session: SessionSettings;
  /** Containers kept warm for the next sessions (--warm; 0: off). They count against maxSessions. */
  warmContainers?: number;
  /** Runs once, before the first claim, whenever Docker answers (e.g. build the session image). */
  prepare?: () => Promise<void>;
}

/** The worker ended itself: the control plane refused it for good (401, 403, 404). */
export class WorkerFatalError extends Error {
  override name = 'WorkerFatalError';
  constructor(
    message: string,
    /** 401 or 403: the key itself was refused (the window then asks for it again). */
    readonly keyRefused: boolean,
  ) {
    super(message);
  }
}

/**
 * The poll loop and the owner of the worker's state. Claims only what it can
 * start now (not paused, below maxSessions, Docker answering), hands each item to
 * an ItemRun, and on shutdown drains: stop claiming → wait (still heartbeating) →
 * stop the sessions → stop the items → remove the containers.
 */
export class Worker {
  readonly events = new Emitter<WorkerEvent>();
  readonly #opts: WorkerOptions;
  readonly #claims: ClaimStore;
  readonly #runs = new Map<string, ItemRun>();
  #state: WorkerState = { status: 'off' };
  /** The machine is asleep (an outside condition, like Docker being down): claim nothing. */
  #asleep = false;
  /** On battery, with the settings asking to claim nothing then. */
  #onBattery = false;
  /** Aborted by pause and sleep, so a long poll already out cannot claim for a worker that stopped claiming. */
  #claimGate = new AbortController();
  #blockedBy: ClaimBlock | undefined;
  #blockDetail: string | undefined;
  #loopCtrl = new AbortController();
  #loop: Promise<void> = Promise.resolve();
  #wake: () => void = () => {};
  #skipDrain = new AbortController();
  /**
   * Aborted by stopNow (a second quit or signal): every control-plane call still in flight — an ack,
   * a recovery, a retry's wait — ends now. A drain does not abort it: an ack cut off halfway would
   * leave the item acked but unserved until its lease lapses.
   */
  #stopNowCtrl = new AbortController();
  #shutdown: Promise<void> | undefined;
  #fatal: WorkerFatalError | undefined;
  #swept = false;
  /** What the last sweep left to another Outpost that looked alive. */
  #spared = 0;
  readonly #pool: WarmPool | undefined;

  constructor(opts: WorkerOptions) {
    this.#opts = opts;
    this.#claims = new ClaimStore(opts.paths.leases);
    this.#pool = opts.warmContainers && canWaitWarm(opts.session) ? new WarmPool({ ...opts, environmentId: opts.provider.environmentId, settings: opts.session, size: opts.warmContainers }) : undefined;
  }

  get state(): WorkerState {
    return this.#state;
  }

  get items(): ItemState[] {
    return [...this.#runs.values()].map((r) => r.state);
  }

  /** The warm containers' session keys (paths.ts sessionKey): their workspaces and logs are in use, however old. */
  get warmKeys(): string[] {
    return (this.#pool?.warmNames ?? []).map((name) => sessionKey(this.#opts.provider.environmentId, name));
  }

  get active(): number {
    return this.#runs.size;
  }

  /** Set when the worker stopped itself on an error the user must fix. */
  get fatalError(): WorkerFatalError | undefined {
    return this.#fatal;
  }

  /**
   * off → starting; the poll loop then waits for Docker, runs startup recovery and readies the
   * image (still starting, with what it is doing), publishes online, and runs until shutdown.
   */
  async start(): Promise<void> {
    if (this.#state.status !== 'off' && this.#state.status !== 'error') return;
    const { logger, provider } = this.#opts;
    this.#fatal = undefined;
    this.#shutdown = undefined;
    this.#skipDrain = new AbortController();
    this.#stopNowCtrl = new AbortController();
    this.#loopCtrl = new AbortController();
    this.#swept = false;
    this.#blockedBy = undefined;
    this.#setState({ status: 'starting' });
    logger.info('worker starting', { environment_id: provider.environmentId, max_sessions: this.#opts.maxSessions });
    this.#loop = Promise.all([this.#pollLoop(this.#loopCtrl.signal), this.#keepAlive(this.#loopCtrl.signal), this.#sweepAgain(this.#loopCtrl.signal)]).then(() => {});
  }

  /**
   * While another Outpost on this data folder holds containers or claims, look again now and then:
   * should it die (its record goes stale: store/paths.ts InstanceRecord), what it left is swept then,
   * not at this worker's next start.
   */
  async #sweepAgain(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(SWEEP_AGAIN_MS, signal);
      if (signal.aborted || !this.#swept || this.#spared === 0) continue;
      try {
        this.#spared = (await sweepOrphans(this.#opts, this.#claims, AbortSignal.any([signal, this.#stopNowCtrl.signal]))).spared;
      } catch (e) {
        this.#opts.logger.warn('could not look again for what a stopped Outpost left', { error: this.#opts.provider.describe(e) });
      }
    }
  }

  /** Environment-level upkeep (Bridge heartbeats); a fatal failure stops the worker like a fatal poll. */
  async #keepAlive(signal: AbortSignal): Promise<void> {
    const { provider } = this.#opts;
    if (!provider.keepAlive) return;
    try {
      await provider.keepAlive(signal);
    } catch (e) {
      if (signal.aborted) return;
      this.#fail(e, 'keeping the environment alive');
      this.#loopCtrl.abort();
      this.#wake();
    }
  }

  /** The control plane refused for good: stop with words the user can act on. */
  #fail(e: unknown, during: string): void {
    const { provider, logger } = this.#opts;
    if (this.#fatal) return;
    // Name what failed: a refused heartbeat is not a refusal to hand out work.
    const what = during === 'polling' ? 'the control plane refused to hand out work' : `${during} failed for good`;
    // Both providers' errors carry the HTTP status (the SDK's APIError, BridgeApiError).
    const status = (e as { status?: unknown } | null)?.status;
    this.#fatal = new WorkerFatalError(
      `environment ${provider.environmentId}: ${what} (${provider.describe(e)}). ` +
        'Check the environment id and the environment key.',
      status === 401 || status === 403,
    );
    logger.error(`worker stopped: ${during} failed for good`, { environment_id: provider.environmentId, error: provider.describe(e) });
    this.#setState(this.#errorState());
    this.#loopCtrl.abort();
    this.#wake();
  }

  /** Resolves when the poll loop has ended (shutdown or a fatal error). */
  get stopped(): Promise<void> {
    return this.#loop;
  }

  pause(): void {
    if (this.#state.status !== 'online' && this.#state.status !== 'starting') return;
    this.#claimGate.abort();
    this.#setState({ status: 'paused', active: this.active });
    this.#wake();
  }

  resume(): void {
    if (this.#state.status !== 'paused') return;
    if (this.#swept) this.#publishOnline();
    else this.#setState({ status: 'starting' });
    this.#wake();
  }

  /** The machine is going to sleep: claim nothing (running sessions are left to their leases). */
  sleep(): void {
    this.#asleep = true;
    this.#claimGate.abort();
    this.#block('asleep');
  }

  /** Back from sleep: heartbeat every lease first — a lost one stops its session — then claim again. */
  async wake(): Promise<void> {
    if (!this.#asleep) return;
    await Promise.all([...this.#runs.values()].map((r) => r.checkLease()));
    this.#asleep = false;
    this.#wake();
  }

  /**
   * On battery (and the settings say to claim nothing then): claim nothing until back on power.
   * Running sessions are left to finish, their leases kept.
   */
  setOnBattery(onBattery: boolean): void {
    if (onBattery === this.#onBattery) return;
    this.#onBattery = onBattery;
    const { logger, provider } = this.#opts;
    if (onBattery) {
      logger.info('on battery: claiming no work until on power; running sessions finish', { environment_id: provider.environmentId, sessions: this.active });
      this.#claimGate.abort();
      this.#block('on-battery');
    } else {
      logger.info('on power again: claiming work', { environment_id: provider.environmentId });
      this.#wake();
    }
  }

  /** Stop one running item (the window's Stop button). */
  stopItem(workId: string): boolean {
    const run = this.#runs.get(workId);
    run?.stop('by the user');
    return run !== undefined;
  }

  /**
   * Stop claiming, let running sessions finish for up to drainMs while their leases
   * are kept, then stop what is left. Calling it again returns the same shutdown.
   */
  shutdown(drainMs: number): Promise<void> {
    this.#shutdown ??= this.#runShutdown(drainMs);
    return this.#shutdown;
  }

  /** Skip what is left of the drain: stop running sessions now (a second quit). */
  stopNow(): Promise<void> {
    this.#skipDrain.abort();
    this.#stopNowCtrl.abort();
    this.#opts.provider.abortInFlight?.();
    return this.shutdown(0);
  }

  async #runShutdown(drainMs: number): Promise<void> {
    const { logger } = this.#opts;
    const budgetMs = drainMs + this.#opts.session.graceSeconds * 1000 + LAST_CALLS_MS;
    const budget = setTimeout(() => {
      logger.warn('shutdown is taking longer than the drain and grace periods; cutting off the control-plane calls still in flight', { after_seconds: budgetMs / 1000 });
      void this.stopNow();
    }, budgetMs);
    try {
      await this.#stopInOrder(drainMs);
    } finally {
      clearTimeout(budget);
    }
  }

  async #stopInOrder(drainMs: number): Promise<void> {
    const { logger } = this.#opts;
    this.#loopCtrl.abort();
    this.#wake();
    await this.#loop;
    if (this.active > 0 && drainMs > 0 && !this.#skipDrain.signal.aborted) {
      this.#setState({ status: 'draining', active: this.active, deadline: Date.now() + drainMs });
      logger.info('draining: waiting for running sessions to finish', { sessions: this.active, drain_seconds: drainMs / 1000 });
      await Promise.race([this.#allDone(), sleep(drainMs, this.#skipDrain.signal)]);
    }
    this.#setState({ status: 'stopping', active: this.active });
    if (this.active > 0) logger.info('stopping running sessions', { sessions: this.active });
    for (const run of this.#runs.values()) run.stop('Outpost is shutting down');
    await this.#allDone();
    await this.#pool?.settled();
    this.#setState(this.#fatal ? this.#errorState() : { status: 'off' });
    logger.info('worker stopped');
  }

  async #allDone(): Promise<void> {
    await Promise.all([...this.#runs.values()].map((r) => r.done));
  }

  async #pollLoop(signal: AbortSignal): Promise<void> {
    const { provider, logger } = this.#opts;
    let attempt = 0;
    while (!signal.aborted) {
      if (!(await this.#canClaim(signal))) continue;
      // A pause, sleep or battery that came while #canClaim awaited (the startup sweep) found no gate to abort yet.
      if (this.#state.status === 'paused' || this.#asleep || this.#onBattery) continue;
      let work: WorkItem | null;
      let idleMs: number | undefined;
      if (this.#claimGate.signal.aborted) this.#claimGate = new AbortController();
      const gate = this.#claimGate.signal;
      try {
        ({ work, idleMs } = await provider.poll(AbortSignal.any([signal, gate])));
      } catch (e) {
        if (signal.aborted) return;
        if (gate.aborted) continue;
        if (provider.isFatal(e)) {
          this.#fail(e, 'polling');
          return;
        }
        // The SDK poller's 1 s … 60 s backoff, jittered: a fleet retrying after a shared outage must not do so in lockstep.
        const wait = backoff(attempt) * (1 - Math.random() * 0.25);
        const message = e instanceof MalformedWorkError ? 'ignored a malformed poll response' : 'poll failed; backing off';
        logger.warn(message, { environment_id: provider.environmentId, error: provider.describe(e), backoff_ms: Math.round(wait) });
        attempt++;
        await sleep(wait, signal);
        continue;
      }
      attempt = 0;
      // The poll answered as shutdown, a pause or sleep began: leave the item unacked; the queue hands it out again.
      if (signal.aborted) return;
      if (gate.aborted) continue;
      if (!work) {
        await sleep(idleMs ?? jitter(1_000, 3_000), signal);
        continue;
      }
      await this.#claim(work);
    }
  }

  /** Waits while claiming is not possible; true when a poll may go out now. */
  async #canClaim(signal: AbortSignal): Promise<boolean> {
    if (this.#state.status === 'paused' || this.#asleep || this.#onBattery) {
      if (this.#onBattery && !this.#asleep) this.#block('on-battery');
      await this.#waitForChange(signal, 60_000);
      return false;
    }
    if (this.active >= this.#opts.maxSessions) {
      this.#block('full');
      await this.#waitForChange(signal, 60_000);
      return false;
    }
    try {
      await this.#opts.runtime.ping();
    } catch (e) {
      this.#block('docker-unavailable', (e as Error).message);
      if (!this.#swept) this.#starting(`waiting for Docker: ${(e as Error).message}`);
      await this.#waitForChange(signal, DOCKER_RETRY_MS);
      return false;
    }
    this.#block(undefined);
    if (!this.#swept) {
      // Startup recovery runs before the first poll, as soon as Docker answers (it may be down at start).
      try {
        this.#starting('removing what an earlier Outpost left behind');
        this.#spared = (await sweepOrphans(this.#opts, this.#claims, AbortSignal.any([signal, this.#stopNowCtrl.signal]))).spared;
        this.#starting('getting the session image ready');
        await this.#opts.prepare?.();
        this.#swept = true;
      } catch (e) {
        this.#opts.logger.warn('could not get ready to claim work; retrying', { error: this.#opts.provider.describe(e) });
        this.#starting(`could not get ready (${this.#opts.provider.describe(e)}); retrying`);
        await this.#waitForChange(signal, DOCKER_RETRY_MS);
        return false;
      }
      if (signal.aborted || this.#state.status !== 'starting') return false;
      this.#opts.logger.info('worker online', { environment_id: this.#opts.provider.environmentId });
      this.#publishOnline();
    }
    return !signal.aborted;
  }

  /** Still starting: say what it is doing (only while nothing else — a pause, a shutdown — has taken over). */
  #starting(detail: string): void {
    if (this.#state.status === 'starting' && this.#state.detail !== detail) this.#setState({ status: 'starting', detail });
  }

  #block(reason: ClaimBlock | undefined, detail?: string): void {
    if (reason === this.#blockedBy) return;
    const { logger, provider } = this.#opts;
    if (reason === 'docker-unavailable') {
      logger.warn(`${detail}; claiming no work until Docker answers`, { environment_id: provider.environmentId });
    } else if (this.#blockedBy === 'docker-unavailable') {
      logger.info('Docker answers again; claiming work', { environment_id: provider.environmentId });
    }
    this.#blockedBy = reason;
    this.#blockDetail = detail;
    if (this.#state.status === 'online') this.#publishOnline();
  }

  async #claim(work: WorkItem): Promise<void> {
    const { provider, logger } = this.#opts;
    const claimedAt = Date.now();
    try {
      // Not aborted by a drain: an ack cut off halfway would leave the item acked but unserved until its lease lapses.
      // Stop-now aborts it: a control plane that hangs the ack (or asks to retry it in an hour) must not hold the exit.
      await provider.accept(work, this.#stopNowCtrl.signal);
    } catch (e) {
      // An unacknowledged item returns to the queue; someone (maybe us) claims it again.
      if (this.#stopNowCtrl.signal.aborted) logger.warn('ack cut off: stopping now; the work item goes back to the queue', { work_id: work.id });
      else logger.error('ack failed; skipping the work item', { work_id: work.id, error: provider.describe(e) });
      return;
    }
    const stale = this.#runs.get(work.id);
    if (stale) {
      // Handed out again while we still run it: our lease lapsed, so what we run is stale. Let it go first.
      logger.warn('the control plane handed out an item this worker still runs: its lease lapsed; letting the old run go', { work_id: work.id });
      stale.surrender('lease lost: it lapsed and the control plane handed the item out again');
      await stale.done;
    }
    logger.info('claimed work', { work_id: work.id, type: work.kind, [`${work.kind}_id`]: work.subjectId });
    // Taken before the item counts as active: the pool's new target then leaves room for it.
    const warm = work.kind === 'session' ? this.#pool?.take() : undefined;
    const run = new ItemRun(
      {
        ...this.#opts,
        claims: this.#claims,
        settings: this.#opts.session,
        stopNow: this.#stopNowCtrl.signal,
        onChange: (item) => this.events.fire({ type: 'item-state', item }),
        ...(warm ? { warm } : {}),
      },
      work,
      claimedAt,
    );
    this.#runs.set(work.id, run);
    this.#refreshActive();
    void run.done.then((item) => {
      if (isTerminal(item.status) && this.#runs.get(work.id) === run) this.#runs.delete(work.id);
      this.#refreshActive();
      this.#wake();
    });
  }

  #errorState(): WorkerState {
    const fatal = this.#fatal!;
    return { status: 'error', message: fatal.message, ...(fatal.keyRefused ? { keyRefused: true } : {}) };
  }

  #refreshActive(): void {
    const s = this.#state;
    if (s.status === 'online') this.#publishOnline();
    else if (s.status === 'paused' || s.status === 'draining' || s.status === 'stopping') this.#setState({ ...s, active: this.active });
  }

  #publishOnline(): void {
    const blockedBy = this.#blockedBy === 'full' && this.active < this.#opts.maxSessions ? undefined : this.#blockedBy;
    this.#setState({
      status: 'online',
      active: this.active,
      ...(blockedBy ? { blockedBy } : {}),
      ...(blockedBy && this.#blockDetail ? { detail: this.#blockDetail } : {}),
    });
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    this.#pool?.target(this.#warmRoom());
    this.events.fire({ type: 'worker-state', state });
  }

  /**
   * How many containers may wait warm now: none unless claiming (online, awake, Docker answering);
   * else what --max-sessions leaves beside the items in flight, so the machine never holds more.
   */
  #warmRoom(): number {
    const s = this.#state;
    if (s.status !== 'online' || this.#asleep || s.blockedBy === 'docker-unavailable') return 0;
    return Math.max(0, this.#opts.maxSessions - this.active);
  }

  #waitForChange(signal: AbortSignal, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const ctrl = new AbortController();
      this.#wake = () => ctrl.abort();
      void sleep(timeoutMs, AbortSignal.any([signal, ctrl.signal])).then(resolve);
    });
  }
}
