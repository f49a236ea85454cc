import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { CHANNEL_NAMES, ipcChannel } from '../../shared/channels.js';
import type { Result } from '../../shared/contract.js';
import type { Outpost } from '../core/outpost.js';
import { isAppUrl } from './app-protocol.js';

/**
 * The IPC adapter: one handler per contract call. A message from any frame but our
 * window's own is refused; arguments are parsed by the service with the contract's schemas.
 */
export function registerIpc(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  service: Pick<Outpost, 'handle'>,
  isTrustedSender: (event: IpcMainInvokeEvent) => boolean,
): () => void {
  for (const name of CHANNEL_NAMES) {
    ipcMain.handle(ipcChannel(name), async (event, arg: unknown): Promise<Result<unknown>> => {
      if (!isTrustedSender(event)) return { error: { code: 'forbidden', message: 'refused: the request did not come from Outpost’s window' } };
      return service.handle(name, arg);
    });
  }
  return () => CHANNEL_NAMES.forEach((name) => ipcMain.removeHandler(ipcChannel(name)));
}

/**
 * True for a call from the main frame of our window, showing our app at app://outpost
 * (Electron Fiddle: check the sender). A file:// page is not the app, whatever its folder.
 */
export function trustedSenderCheck(getWindowContentsId: () => number | undefined) {
  return (event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>): boolean => {
    const frame = event.senderFrame;
    return (
      event.sender.id === getWindowContentsId() &&
      frame !== null &&
      frame.parent === null && // the main frame, not an iframe
      isAppUrl(frame.url)
    );
  };
}
