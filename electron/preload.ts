/**
 * The sandboxed preload: exposes exactly the contract as `window.api` — one function per
 * call and one event subscription. Bundled to a single CommonJS file (npm run build).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNEL_NAMES, IPC_EVENT_CHANNEL, ipcChannel, type ChannelName } from '../shared/channels.js';

const api = {
  call: (channel: ChannelName, arg?: unknown): Promise<unknown> => {
    if (!CHANNEL_NAMES.includes(channel)) return Promise.resolve({ error: { code: 'invalid-request', message: `unknown call ${channel}` } });
    return ipcRenderer.invoke(ipcChannel(channel), arg ?? {});
  },
  onEvent: (listener: (event: unknown) => void): (() => void) => {
    const handler = (_event: IpcRendererEvent, payload: unknown) => listener(payload);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
  },
};

contextBridge.exposeInMainWorld('api', api);
export type OutpostApi = typeof api;
