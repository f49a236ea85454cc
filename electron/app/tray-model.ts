import type { WorkerState } from '../../shared/states.js';
import type { UpdateOffer } from './updates.js';

/** The tray icon for a worker state: one image per row of this table, in build/tray/. */
export type TrayIcon = 'off' | 'idle' | 'busy' | 'paused' | 'error';

export function trayIcon(state: WorkerState): TrayIcon {
  switch (state.status) {
    case 'off':
    case 'starting':
    case 'stopping':
      return 'off';
    case 'online':
      if (state.blockedBy === 'on-battery') return 'paused';
      return state.blockedBy === 'docker-unavailable' ? 'error' : state.active > 0 ? 'busy' : 'idle';
    case 'paused':
    case 'draining':
      return 'paused';
    case 'error':
      return 'error';
  }
}

export type TrayAction = 'start' | 'pause' | 'resume' | 'stop' | 'open' | 'update' | 'quit';

export interface TrayMenuItem {
  label: string;
  /** Absent for a line that only informs. */
  action?: TrayAction;
  enabled: boolean;
}

/** What the tray menu shows, a pure function of the worker's state and the update on offer (Rancher Desktop: render from state). */
export function trayMenu(state: WorkerState, update?: UpdateOffer): TrayMenuItem[] {
  const info = (label: string): TrayMenuItem => ({ label, enabled: false });
  const item = (label: string, action: TrayAction, enabled = true): TrayMenuItem => ({ label, action, enabled });
  const sessions = (n: number) => `${n} session${n === 1 ? '' : 's'} running`;
  const lines: TrayMenuItem[] = [];
  switch (state.status) {
    case 'off':
      lines.push(info('Worker off'), item('Start worker', 'start'));
      break;
    case 'starting':
      lines.push(info(state.detail ? `Starting: ${state.detail.slice(0, 80)}` : 'Worker starting…'), item('Pause', 'pause'), item('Stop worker', 'stop'));
      break;
    case 'online':
      lines.push(
        info(
          state.blockedBy === 'docker-unavailable' ? 'Waiting for Docker'
          : state.blockedBy === 'asleep' ? `Asleep · ${sessions(state.active)}`
          : state.blockedBy === 'on-battery' ? `Paused on battery · ${sessions(state.active)}`
          : `Online · ${sessions(state.active)}`,
        ),
        item('Pause', 'pause'),
        item('Stop worker', 'stop'),
      );
      break;
    case 'paused':
      lines.push(info(`Paused · ${sessions(state.active)}`), item('Resume', 'resume'), item('Stop worker', 'stop'));
      break;
    case 'draining':
      lines.push(info(`Finishing · ${sessions(state.active)}`), item('Stop worker', 'stop'));
      break;
    case 'stopping':
      lines.push(info('Stopping…'));
      break;
    case 'error':
      lines.push(info(`Stopped: ${state.message.slice(0, 80)}`), item('Start worker', 'start'));
      break;
  }
  lines.push(item('Open Outpost', 'open'));
  // Only once downloaded and verified; a package manager's install only hears of it.
  if (update) lines.push(update.ready ? item(`Restart to update to ${update.version}`, 'update') : info(`Outpost ${update.version} is out: install it the way you installed this one`));
  lines.push(item('Quit', 'quit'));
  return lines;
}

export function trayTooltip(state: WorkerState): string {
  return `Outpost — ${trayMenu(state)[0]!.label}`;
}
