import type { ServiceEvent } from '../../shared/contract.js';
import type { WorkerState } from '../../shared/states.js';

export interface DesktopNotice {
  title: string;
  body: string;
}

/**
 * Which events deserve a desktop notification: only what needs the user — a session
 * that failed, the worker stopped on an error. Never one per session that went well.
 */
export function notificationFor(event: ServiceEvent, previousWorkerState?: WorkerState): DesktopNotice | null {
  if (event.name === 'item-state' && event.payload.status === 'failed') {
    return { title: 'A session failed', body: `${event.payload.subjectId}: ${event.payload.reason ?? 'no reason given'}` };
  }
  if (event.name === 'notice' && event.payload.level === 'error') {
    return { title: 'Outpost needs you', body: event.payload.message };
  }
  const dockerGone = (s?: WorkerState) => s?.status === 'online' && s.blockedBy === 'docker-unavailable';
  if (event.name === 'worker-state' && dockerGone(event.payload) && !dockerGone(previousWorkerState)) {
    return { title: 'Docker is not running', body: 'Outpost claims no work until Docker answers again.' };
  }
  return null;
}
