import { isFatal4xx, isStatus } from '@anthropic-ai/sdk/lib/environments/index';
import type { Logger } from '../../logs/log.js';
import { deadline, sleep } from '../../base/timing.js';
import type { HeartbeatReply, ItemChannel } from './api.js';
import { describeApiError } from './api.js';

const NO_HEARTBEAT = 'NO_HEARTBEAT';
const DEFAULT_INTERVAL_MS = 30_000;
/**
 * Until the first beat tells us the TTL, beat (and cut a hung beat off) this often. The lease
 * has run on the server since the ack, and its TTL may be short: a first beat left hanging for
 * the SDK's 30 s would let it lapse and the item go to another worker.
 */
const FIRST_BEAT_INTERVAL_MS = 5_000;
/**
 * …and after a beat that failed, first or not, try again this soon. At the regular interval (TTL/2)
 * the retry would land just as the lease lapses: one failed beat would cost the lease (a 500, and the
 * retry meets a 409 at exactly the TTL).
 */
const RETRY_MS = 1_000;
const DEFAULT_TTL_MS = 90_000;

/**
 * Why heartbeating ended. `stop-requested`: the control plane wants the session stopped.
 * `lost`: the lease belongs to someone else (412, or no successful beat within the TTL) —
 * the item must be left alone. `rejected`: a permanent 4xx; we cannot keep the lease.
 */
export type LeaseEnd = 'released' | 'stop-requested' | 'lost' | 'rejected';

export interface LeaseKeeperOptions {
  channel: ItemChannel;
  workId: string;
  logger: Logger;
  /** Called after each successful beat with the server's last_heartbeat (startup recovery persists it). */
  onBeat?: (lastHeartbeat: string) => void;
}

/**
 * Keeps one work item's lease alive, as the SDK's heartbeatLoop does: NO_HEARTBEAT
 * first, then echo the server's last_heartbeat exactly; interval = clamp(ttl/2, 1 s, 30 s);
 * each call cut off after one interval so a hung request cannot outlive the lease.
 * Started before any slow step (image pull, container create): a lapsed lease lets
 * another worker claim the same session.
 */
export class LeaseKeeper {
  readonly #opts: LeaseKeeperOptions;
  readonly #ctrl = new AbortController();
  #end: LeaseEnd | undefined;
  #detail = '';
  #last = NO_HEARTBEAT;
  #intervalMs = FIRST_BEAT_INTERVAL_MS;
  #ttlMs = DEFAULT_TTL_MS;
  #lastSuccess = Date.now();
  /** The last beat went through: the next one waits the interval. Otherwise (none yet, or it failed) it comes sooner. */
  #lastBeatOk = false;
  #nudge = new AbortController();
  #afterNextBeat: Array<() => void> = [];
  #confirm: (ours: boolean) => void = () => {};
  /** True once a beat succeeded (the lease is ours); false if the lease ended first. Start nothing before. */
  readonly confirmed = new Promise<boolean>((resolve) => (this.#confirm = resolve));
  readonly #loop: Promise<void>;

  constructor(opts: LeaseKeeperOptions) {
    this.#opts = opts;
    this.#loop = this.#run();
  }

  /** The control plane handed the item out again: whatever we hold of it is stale. Ends as lost. */
  surrender(detail: string): void {
    this.#finish('lost', detail);
  }

  /** Aborts when the lease ends for any reason. */
  get signal(): AbortSignal {
    return this.#ctrl.signal;
  }

  get end(): LeaseEnd | undefined {
    return this.#end;
  }

  /** Words for why the lease ended, for the item's reason and the log. */
  get detail(): string {
    return this.#detail;
  }

  get lost(): boolean {
    return this.#end === 'lost';
  }

  /** Beat now rather than at the next interval; resolves once that beat has been answered (or the lease ended). */
  checkNow(): Promise<void> {
    if (this.#end) return Promise.resolve();
    return new Promise((resolve) => {
      this.#afterNextBeat.push(resolve);
      this.#nudge.abort();
    });
  }

  /** Stop heartbeating (the session is over) and wait for the loop to finish. */
  async release(): Promise<void> {
    this.#finish('released', '');
    await this.#loop;
  }

  #finish(end: LeaseEnd, detail: string): void {
    if (this.#end) return;
    this.#end = end;
    this.#detail = detail;
    this.#confirm(false);
    this.#ctrl.abort();
  }

  async #run(): Promise<void> {
    try {
      await this.#beatAndNotify();
      while (!this.#ctrl.signal.aborted) {
        await sleep(this.#lastBeatOk ? this.#intervalMs : Math.min(RETRY_MS, this.#intervalMs / 2), AbortSignal.any([this.#ctrl.signal, this.#nudge.signal]));
        if (this.#ctrl.signal.aborted) return;
        this.#nudge = new AbortController();
        await this.#beatAndNotify();
      }
    } finally {
      this.#notifyWaiters();
    }
  }

  async #beatAndNotify(): Promise<void> {
    await this.#beat();
    this.#notifyWaiters();
  }

  #notifyWaiters(): void {
    const waiters = this.#afterNextBeat;
    this.#afterNextBeat = [];
    for (const resolve of waiters) resolve();
  }

  async #beat(): Promise<void> {
    const { channel, workId, logger } = this.#opts;
    const cutoff = deadline(this.#intervalMs, this.#ctrl.signal);
    let reply: HeartbeatReply;
    try {
      reply = await channel.heartbeat(this.#last, cutoff);
    } catch (e) {
      this.#lastBeatOk = false;
      if (this.#ctrl.signal.aborted) return;
      if (isStatus(e, 412)) {
        logger.error('lease lost: another worker holds it', { work_id: workId, error: describeApiError(e) });
        this.#finish('lost', 'lease lost: the control plane says another worker holds it (412)');
        return;
      }
      if (isStatus(e, 409)) {
        logger.error('lease lost: the item went back to the queue', { work_id: workId, error: describeApiError(e) });
        this.#finish('lost', 'lease lost: the lease lapsed and the item went back to the queue (409)');
        return;
      }
      if (isFatal4xx(e)) {
        logger.error('heartbeat rejected for good', { work_id: workId, error: describeApiError(e) });
        this.#finish('rejected', `heartbeat rejected: ${describeApiError(e)}`);
        return;
      }
      if (Date.now() - this.#lastSuccess > this.#ttlMs) {
        logger.error('lease assumed lost: no successful heartbeat within the TTL', {
          work_id: workId,
          ttl_ms: this.#ttlMs,
          error: describeApiError(e),
        });
        this.#finish('lost', `lease lost: no successful heartbeat for ${Math.round(this.#ttlMs / 1000)} s`);
        return;
      }
      logger.warn('heartbeat failed; retrying', { work_id: workId, error: describeApiError(e) });
      return;
    }
    this.#lastSuccess = Date.now();
    this.#lastBeatOk = true;
    this.#last = reply.lastHeartbeat;
    this.#confirm(true);
    if (reply.ttlSeconds > 0) {
      this.#ttlMs = reply.ttlSeconds * 1000;
      this.#intervalMs = Math.max(1_000, Math.min(this.#ttlMs / 2, DEFAULT_INTERVAL_MS));
    }
    this.#opts.onBeat?.(reply.lastHeartbeat);
    if (reply.state === 'stopping' || reply.state === 'stopped') {
      logger.info('control plane asked to stop the session', { work_id: workId, state: reply.state });
      this.#finish('stop-requested', `stopped by the control plane (state ${reply.state})`);
    } else if (!reply.leaseExtended) {
      logger.warn('lease not extended; stopping the session', { work_id: workId });
      this.#finish('stop-requested', 'the control plane did not extend the lease');
    }
  }
}
