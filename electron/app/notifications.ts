import type { OpenView, ServiceEvent } from '../../shared/contract.js';
import type { WorkerState } from '../../shared/states.js';

export interface DesktopNotice {
  title: string;
  body: string;
  /** What a click on it opens in the window. */
  open: OpenView;
}

/** Items already told about: enough for any burst of failures, bounded for a worker that runs for months. */
const ITEMS_REMEMBERED = 500;

/**
 * Which events deserve a desktop notification: only what needs the user — a session that failed or
 * was lost, the worker stopped on an error the user must fix (a key refused among them), Docker gone.
 * Each once: not again while the state persists (the worker's error is told once, whether it comes as
 * its state or as the notice that repeats it). Never for routine success; a stop by the user ends an
 * item as finished, so it is not a failure. A pure decision over the events seen so far: the adapter
 * below shows it.
 */
export class NotificationPolicy {
  #worker: WorkerState | undefined;
  /** The problems told while they last: cleared when the worker starts again. */
  readonly #problems = new Set<string>();
  readonly #items = new Set<string>();

  /** The notice this event deserves, if any. Off (`enabled` false), it still remembers, so turning them on tells nothing stale. */
  decide(event: ServiceEvent, enabled = true): DesktopNotice | null {
    const notice = this.#decide(event);
    return enabled ? notice : null;
  }

  #decide(event: ServiceEvent): DesktopNotice | null {
    if (event.name === 'item-state') {
      const item = event.payload;
      if ((item.status !== 'failed' && item.status !== 'lost') || this.#items.has(item.workId)) return null;
      this.#items.add(item.workId);
      if (this.#items.size > ITEMS_REMEMBERED) this.#items.delete(this.#items.values().next().value!);
      const what = item.kind === 'script' ? 'A script' : item.kind === 'healthcheck' ? 'A healthcheck' : 'A session';
      return {
        title: `${what} ${item.status === 'failed' ? 'failed' : 'was lost'}`,
        body: `${item.subjectId}: ${item.reason ?? 'no reason given'}`,
        open: item.logFile ? { view: 'log', environmentId: item.environmentId, workId: item.workId, title: item.subjectId } : { view: 'work' },
      };
    }
    if (event.name === 'notice') {
      if (event.payload.level !== 'error') return null;
      return this.#problem(event.payload.message, { title: 'Outpost needs you', body: event.payload.message, open: { view: 'work' } });
    }
    if (event.name !== 'worker-state') return null;
    const previous = this.#worker;
    const state = event.payload;
    this.#worker = state;
    if (state.status === 'starting') this.#problems.clear();
    if (state.status === 'error') {
      return this.#problem(state.message, {
        title: state.keyRefused ? 'Outpost’s key was refused' : 'Outpost stopped on an error',
        body: state.message,
        open: { view: 'setup' },
      });
    }
    const dockerGone = (s?: WorkerState) => s?.status === 'online' && s.blockedBy === 'docker-unavailable';
    if (dockerGone(state) && !dockerGone(previous)) {
      return { title: 'Docker is not running', body: 'Outpost claims no work until Docker answers again.', open: { view: 'work' } };
    }
    return null;
  }

  #problem(message: string, notice: DesktopNotice): DesktopNotice | null {
    if (this.#problems.has(message)) return null;
    this.#problems.add(message);
    return notice;
  }
}

/** What the adapter needs of Electron's Notification. */
export type NotificationClass = new (options: { title: string; body: string }) => {
  on(event: 'click' | 'close' | 'failed', listener: () => void): unknown;
  show(): void;
};

/**
 * Desktop notifications, each held until it is clicked, closed or fails: Electron drops the
 * events of a Notification that JavaScript no longer references, so a click on one the garbage
 * collector took does nothing (electron/electron#16922).
 */
export class DesktopNotifications {
  readonly #Notification: NotificationClass;
  readonly #shown = new Set<InstanceType<NotificationClass>>();

  constructor(Notification: NotificationClass) {
    this.#Notification = Notification;
  }

  /** Shown now; `onClick` runs if the user clicks it. */
  show(title: string, body: string, onClick?: () => void): void {
    const shown = new this.#Notification({ title, body });
    const release = () => void this.#shown.delete(shown);
    shown.on('click', () => {
      release();
      onClick?.();
    });
    shown.on('close', release);
    shown.on('failed', release);
    this.#shown.add(shown);
    shown.show();
  }

  /** How many are still on screen (held). */
  get held(): number {
    return this.#shown.size;
  }
}

/** Show a notice; a click opens its view. */
export function showNotice(notifications: DesktopNotifications, notice: DesktopNotice, open: (view: OpenView) => void): void {
  notifications.show(notice.title, notice.body, () => open(notice.open));
}
