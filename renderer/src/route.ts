import type { LogSource } from '../../shared/contract.js';

/** What the window shows: App owns the current route, views ask to change it through `open`. */
export type Route =
  | { view: 'work' }
  | { view: 'environments' }
  | { view: 'log'; source: LogSource; title: string }
  | { view: 'workspace'; workId: string; environmentId: string }
  | { view: 'network'; workId: string; environmentId: string }
  /** Setup again, to put a refused key right (never remembered: a restart opens Work). */
  | { view: 'setup' };
