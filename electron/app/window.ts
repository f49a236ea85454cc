import type { BrowserWindow, BrowserWindowConstructorOptions, MenuItemConstructorOptions } from 'electron';
import { secureWebPreferences } from './security.js';

/**
 * The page's own background (renderer/src/styles.css, --bg light and dark): the window is painted
 * with it before the first frame, so opening it never flashes white on a dark desktop.
 */
export const PAGE_BACKGROUND = { light: '#f7f7f5', dark: '#18181a' } as const;

/** Created hidden: main shows it on `ready-to-show`, once the page has painted. */
export function mainWindowOptions(preload: string, icon: string, dark = false): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    minWidth: 800,
    minHeight: 500,
    show: false,
    backgroundColor: dark ? PAGE_BACKGROUND.dark : PAGE_BACKGROUND.light,
    title: 'Outpost',
    icon,
    webPreferences: secureWebPreferences(preload),
  };
}

/**
 * The application menu. None on Windows and Linux: Electron's default one offers Reload and the
 * DevTools. macOS needs one for its keys — without an Edit menu, ⌘C and ⌘V do nothing in the
 * window (pasting a key into Setup among them) — so it gets the app and Edit menus, nothing more.
 */
export function applicationMenu(platform: NodeJS.Platform): MenuItemConstructorOptions[] | null {
  return platform === 'darwin' ? [{ role: 'appMenu' }, { role: 'editMenu' }] : null;
}

/**
 * The window's own menu bar, on Linux only: stock GNOME shows no tray icon (no StatusNotifier
 * host), so the tray menu's Quit may be out of reach; the window's menu holds it too.
 * Windows always shows the tray; macOS has the app menu's Quit.
 */
export function windowMenu(platform: NodeJS.Platform, actions: { quit: () => void }): MenuItemConstructorOptions[] | null {
  if (platform !== 'linux') return null;
  return [{ label: 'Outpost', submenu: [{ label: 'Quit Outpost', accelerator: 'Ctrl+Q', click: actions.quit }] }, { role: 'editMenu' }];
}

/**
 * Closing the window keeps Outpost running in the tray; the first time, say so.
 * Returns the function that lets the window really close (on quit).
 */
export function keepInTrayOnClose(window: Pick<BrowserWindow, 'on' | 'hide'>, tellOnce: () => void): () => void {
  let quitting = false;
  window.on('close', (event) => {
    if (quitting) return;
    event.preventDefault();
    window.hide();
    tellOnce();
  });
  return () => {
    quitting = true;
  };
}

/** What main needs of the window's web contents when its renderer dies. */
export interface RendererGoneReport {
  reason: string;
  exitCode: number;
  /** Reloaded (the first time), or left for the user to reopen. */
  reloaded: boolean;
}

/**
 * A renderer that crashed, was killed or ran out of memory leaves a blank window: reload it once
 * and report it. A second death is not reloaded (a page that crashes as it loads would loop);
 * the report says so, and the window is closed so that Open makes a fresh one. A clean exit (the
 * window closing) is not a crash.
 */
export function reloadOnceWhenGone(
  contents: { on(event: 'render-process-gone', listener: (event: unknown, details: { reason: string; exitCode: number }) => void): unknown; reload(): void },
  report: (gone: RendererGoneReport) => void,
): void {
  let reloaded = false;
  contents.on('render-process-gone', (_event, details) => {
    if (details.reason === 'clean-exit') return;
    const first = !reloaded;
    reloaded = true;
    if (first) contents.reload();
    report({ reason: details.reason, exitCode: details.exitCode, reloaded: first });
  });
}
