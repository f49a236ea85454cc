import { DASHBOARD_PROTOCOL, DASHBOARD_TOKEN_PROTOCOL } from '../../shared/channels.js';
import type { Channel, Result, ServiceEvent } from '../../shared/contract.js';

/** How the renderer reaches the core; it never knows which one it has. */
export interface Transport {
  call(channel: Channel, arg?: unknown): Promise<Result<unknown>>;
  onEvent(listener: (event: ServiceEvent) => void): () => void;
}

declare global {
  interface Window {
    /** The Electron preload's bridge (electron/preload.ts). */
    api?: { call(channel: Channel, arg?: unknown): Promise<unknown>; onEvent(listener: (event: unknown) => void): () => void };
  }
}

export function connect(): Transport {
  const api = window.api;
  if (api) return { call: (channel, arg) => api.call(channel, arg) as Promise<Result<unknown>>, onEvent: (l) => api.onEvent((e) => l(e as ServiceEvent)) };
  return webSocketTransport(takeToken());
}

/**
 * The dashboard's token, from the printed URL's fragment (`#token=…`: a browser never sends a
 * fragment to a server), kept in this page's memory only — then gone from the address bar,
 * history and screenshots. Never a cookie or storage: another server on 127.0.0.1 would get it.
 */
function takeToken(): string | null {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return token && /^[A-Za-z0-9_-]+$/.test(token) ? token : null;
}

/**
 * The headless dashboard's transport: the same contract over a WebSocket to the page's own
 * origin. The token rides in the handshake's `Sec-WebSocket-Protocol`, the only request that
 * carries it. Reconnects when dropped; calls made while it is down wait for it.
 */
function webSocketTransport(token: string | null): Transport {
  const listeners = new Set<(event: ServiceEvent) => void>();
  const pending = new Map<number, (reply: Result<unknown>) => void>();
  let nextId = 1;
  let socket: WebSocket;
  let ready: Promise<void>;
  if (!token) return withoutToken(listeners);
  const open = () => {
    socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, [DASHBOARD_PROTOCOL, DASHBOARD_TOKEN_PROTOCOL + token]);
    ready = new Promise((resolve) => socket.addEventListener('open', () => resolve(), { once: true }));
    socket.addEventListener('message', (message) => {
      const data = JSON.parse(String(message.data)) as { id?: number; reply?: Result<unknown>; event?: ServiceEvent };
      if (data.event) for (const l of listeners) l(data.event);
      else if (data.id !== undefined && data.reply) {
        pending.get(data.id)?.(data.reply);
        pending.delete(data.id);
      }
    });
    socket.addEventListener('close', () => {
      for (const resolve of pending.values()) resolve({ error: { code: 'failed', message: 'lost the connection to Outpost' } });
      pending.clear();
      for (const l of listeners) l({ name: 'notice', payload: { level: 'warning', message: 'Lost the connection to Outpost; reconnecting…' } });
      setTimeout(open, 1000);
    });
  };
  open();
  return {
    async call(channel, arg) {
      await ready;
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, channel, arg: arg ?? {} }));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Opened without the token (a reload, a bookmark): nothing to show; say how to get back in. */
function withoutToken(listeners: Set<(event: ServiceEvent) => void>): Transport {
  const message = 'This page has no access token (it is kept only in the page, so a reload or a bookmark loses it). Open the address that `outpost worker --dashboard` printed.';
  return {
    call: async () => ({ error: { code: 'forbidden', message } }),
    onEvent(listener) {
      listeners.add(listener);
      setTimeout(() => listener({ name: 'notice', payload: { level: 'error', message } }));
      return () => listeners.delete(listener);
    },
  };
}
