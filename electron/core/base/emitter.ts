/**
 * A typed event source (VS Code's Emitter, trimmed): `on` returns the function that unsubscribes.
 * `prepare`, when given, is applied once to each event before any listener sees it.
 */
export class Emitter<T> {
  readonly #listeners = new Set<(event: T) => void>();
  readonly #prepare: (event: T) => T;

  constructor(prepare: (event: T) => T = (event) => event) {
    this.#prepare = prepare;
  }

  on(listener: (event: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  fire(raw: T): void {
    const event = this.#prepare(raw);
    for (const listener of [...this.#listeners]) listener(event);
  }
}
