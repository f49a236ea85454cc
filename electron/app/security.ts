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
 * The one permission the window needs: writing to the clipboard (Copy in the log view calls
 * navigator.clipboard.writeText, which Chromium asks for as clipboard-sanitized-write). Granted to
 * the app's own page in its main frame only — never reading the clipboard, never an iframe or
 * another origin.
 */
export function mayUsePermission(permission: string, details: { requestingUrl?: string | undefined; isMainFrame: boolean }): boolean {
  return permission === 'clipboard-sanitized-write' && details.isMainFrame && isAppUrl(details.requestingUrl ?? '');
}

/**
 * Deny every other permission (camera, notifications from the page, reading the clipboard, …) and
 * add the CSP header to whatever else the session loads; app:// answers carry it themselves
 * (app-protocol.ts). Most web APIs check first and request when the check says no: both answer alike.
 */
export function hardenSession(session: Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'webRequest'>): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) => callback(mayUsePermission(permission, details)));
  session.setPermissionCheckHandler((_contents, permission, _origin, details) => mayUsePermission(permission, details));
  session.webRequest.onHeadersReceived((details, callback) =>
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } }),
  );
}
