import type { Event, HandlerDetails, Session, WebContents, WebPreferences } from 'electron';
import { CONTENT_SECURITY_POLICY, isAppUrl } from './app-protocol.js';

/** Every window's webPreferences: isolated, sandboxed, no Node in the page. */
export function secureWebPreferences(preload: string): WebPreferences {
  return { contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInSubFrames: false, webSecurity: true, preload };
}

type Contents = Pick<WebContents, 'setWindowOpenHandler' | 'on'>;

/**
 * The one hook that hardens every web contents (Podman Desktop's web-contents-created):
 * no new windows, no navigation away from the app (app://outpost only), no webviews.
 */
export function hardenContents(contents: Contents): void {
  contents.setWindowOpenHandler((_details: HandlerDetails) => ({ action: 'deny' }));
  contents.on('will-navigate', (event: Event, url: string) => {
    if (!isAppUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event: Event) => event.preventDefault());
}

/**
 * Deny every permission request (camera, notifications from the page, …) and add the CSP header
 * to whatever else the session loads; app:// answers carry it themselves (app-protocol.ts).
 */
export function hardenSession(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'webRequest'>): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } }),
  );
}
