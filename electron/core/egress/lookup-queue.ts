/** Lookups of one session at the same time; more wait their turn. */
export const LOOKUPS_IN_FLIGHT = 2;
/** Lookups of one session that may wait; more are refused at once. */
export const LOOKUPS_WAITING = 32;

/**
 * One session's name lookups, a few at a time: a session that asks for thousands of slow names
 * holds two of the name servers' answers in flight, not the worker's whole capacity, and what
 * cannot wait is refused in words instead of piling up.
 */
export class LookupQueue {
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  /** Run `lookup` when a slot is free; `signal` gives up waiting (a lookup that started runs to its end, holding its slot). */
  async run<T>(lookup: () => Promise<T>, signal: AbortSignal): Promise<T> {
    if (this.#running < LOOKUPS_IN_FLIGHT) this.#running++;
    else {
      if (this.#waiting.length >= LOOKUPS_WAITING) {
        throw new Error(`too many name lookups at once in this session (${LOOKUPS_IN_FLIGHT} running, ${LOOKUPS_WAITING} waiting): try again`);
      }
      await new Promise<void>((resolve, reject) => {
        // The slot is handed over as it is freed: nothing can take it in between.
        const turn = () => (signal.removeEventListener('abort', giveUp), resolve());
        const giveUp = () => {
          this.#waiting.splice(this.#waiting.indexOf(turn), 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', giveUp, { once: true });
        this.#waiting.push(turn);
      });
    }
    try {
      return await lookup();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
