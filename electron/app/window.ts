import type { BrowserWindow, BrowserWindowConstructorOptions } from 'electron';
import { secureWebPreferences } from './security.js';

export function mainWindowOptions(preload: string, icon: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    minWidth: 800,
    minHeight: 500,
    show: false,
    title: 'Outpost',
    icon,
    webPreferences: secureWebPreferences(preload),
  };
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
