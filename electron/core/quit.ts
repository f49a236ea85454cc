import type { OutpostService } from './service.js';

/** What the user chose when quitting with sessions running. */
export type QuitAnswer = 'drain' | 'stop-now' | 'cancel';

/**
 * Quitting (or stopping the worker) with sessions running asks first: wait for them —
 * the default, leases still kept — or stop them now. A second quit during the wait stops
 * them. Either way the worker is off and no container is left when `quit` resolves true.
 */
export class QuitFlow {
  #inProgress: Promise<boolean> | undefined;

  constructor(
    private readonly service: OutpostService,
    private readonly ask: (activeSessions: number) => Promise<QuitAnswer>,
  ) {}

  get draining(): boolean {
    return this.#inProgress !== undefined;
  }

  /** Resolves true when the app may exit now, false when the user cancelled. */
  quit(): Promise<boolean> {
    if (this.#inProgress) {
      // The second quit: stop the sessions instead of waiting for them.
      void this.service.stopWorker('now');
      return this.#inProgress;
    }
    const flow = this.#run();
    this.#inProgress = flow;
    void flow.then((proceeded) => {
      if (!proceeded) this.#inProgress = undefined;
    });
    return flow;
  }

  async #run(): Promise<boolean> {
    const active = this.service.activeSessions;
    const answer: QuitAnswer = active === 0 ? 'stop-now' : await this.ask(active);
    if (answer === 'cancel') return false;
    await this.service.stopWorker(answer === 'drain' ? 'drain' : 'now');
    await this.service.dispose();
    return true;
  }
}
