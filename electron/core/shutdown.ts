import type { Logger } from './logs/log.js';

/** What the user chose when stopping with sessions running. */
export type StopAnswer = 'drain' | 'stop-now' | 'cancel';

/** What the policy stops: the worker of an open Outpost. */
export interface Stoppable {
  readonly activeSessions: number;
  stopWorker(mode: 'drain' | 'now'): Promise<void>;
}

/**
 * The one shutdown policy, for every head: a first request drains — stop claiming, keep the
 * leases, wait (up to the drain period) for running sessions — a second stops them now.
 * With `ask` (the desktop's dialog), a first request with sessions running asks first:
 * wait for them, stop them now, or cancel. The worker's own sequence — stop claiming →
 * drain → stop containers → stop items → remove containers — is Worker.shutdown.
 */
export class ShutdownPolicy {
  #inProgress: Promise<boolean> | undefined;

  constructor(
    private readonly target: Stoppable,
    private readonly ask?: (activeSessions: number) => Promise<StopAnswer>,
  ) {}

  /** Resolves true once the worker is off (nothing left running), false when the user cancelled. */
  request(): Promise<boolean> {
    if (this.#inProgress) {
      // The second request: stop the sessions instead of waiting for them.
      void this.target.stopWorker('now');
      return this.#inProgress;
    }
    const flow = this.#run();
    this.#inProgress = flow;
    // Once settled, the next request is a first one again (a Stop, then later a Quit).
    void flow.finally(() => (this.#inProgress = undefined));
    return flow;
  }

  async #run(): Promise<boolean> {
    const active = this.target.activeSessions;
    const answer: StopAnswer = active > 0 && this.ask ? await this.ask(active) : 'drain';
    if (answer === 'cancel') return false;
    await this.target.stopWorker(answer === 'drain' ? 'drain' : 'now');
    return true;
  }
}

/** SIGINT and SIGTERM for a headless head: each a request to the policy, said in the log. Resolves once the worker is off. */
export function stopOnSignals(policy: ShutdownPolicy, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    let signals = 0;
    const onSignal = (name: NodeJS.Signals) => {
      signals++;
      logger.info(
        signals === 1 ?
          `${name} received: no new work; finishing running sessions (a second signal stops them now)`
        : `${name} received again: stopping running sessions now`,
      );
      void policy.request().then(() => resolve());
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
