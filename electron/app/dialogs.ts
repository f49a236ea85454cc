import type { BrowserWindow, Dialog } from 'electron';
import type { StopAnswer } from '../core/shutdown.js';

/** Quit or stop with sessions running: wait for them (the default) or stop them now. */
export async function askAboutRunningSessions(dialog: Pick<Dialog, 'showMessageBox'>, parent: BrowserWindow | undefined, sessions: number): Promise<StopAnswer> {
  const options = {
    type: 'question' as const,
    message: `${sessions} session${sessions === 1 ? ' is' : 's are'} still running`,
    detail: 'Outpost can let them finish (it keeps their leases and claims nothing new) or stop them now. Quitting again while it waits stops them.',
    buttons: ['Let them finish', 'Stop them now', 'Cancel'],
    defaultId: 0,
    cancelId: 2,
  };
  const { response } = parent ? await dialog.showMessageBox(parent, options) : await dialog.showMessageBox(options);
  return response === 0 ? 'drain' : response === 1 ? 'stop-now' : 'cancel';
}
