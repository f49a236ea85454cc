import type { Route } from './route.js';

/**
 * What the window remembers between runs, in this origin's localStorage: the last view, and
 * per log its follow / pause choice and search term. Bounded: the most recent LOGS_KEPT logs.
 * Nothing secret is ever kept here (no key, no dashboard token).
 */
const KEY = 'outpost.window.v1';
const LOGS_KEPT = 50;

export interface LogChoice {
  follow: boolean;
  query: string;
}
interface Stored {
  route?: Route;
  logs: Record<string, LogChoice & { at: number }>;
}

function read(): Stored {
  try {
    const parsed = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<Stored>;
    return { route: parsed.route, logs: typeof parsed.logs === 'object' && parsed.logs ? parsed.logs : {} };
  } catch {
    // Unreadable (an older format, or storage disabled): start afresh; it only holds preferences.
    return { logs: {} };
  }
}

function write(stored: Stored): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(stored));
  } catch {
    // Storage full or disabled: the window still works, it just forgets; nothing to tell the user.
  }
}

const VIEWS = new Set(['work', 'environments', 'log', 'workspace']);

export function rememberedRoute(): Route {
  const route = read().route;
  return route && VIEWS.has(route.view) ? route : { view: 'work' };
}

export function rememberRoute(route: Route): void {
  write({ ...read(), route });
}

export function rememberedLog(id: string): LogChoice | undefined {
  const choice = read().logs[id];
  return choice && typeof choice.follow === 'boolean' && typeof choice.query === 'string' ? { follow: choice.follow, query: choice.query } : undefined;
}

export function rememberLog(id: string, choice: LogChoice): void {
  const stored = read();
  stored.logs[id] = { ...choice, at: Date.now() };
  const newest = Object.entries(stored.logs)
    .sort(([, a], [, b]) => b.at - a.at)
    .slice(0, LOGS_KEPT);
  write({ ...stored, logs: Object.fromEntries(newest) });
}
