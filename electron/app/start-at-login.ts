import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Passed by the login item (Windows, Linux): started at login, Outpost stays in the tray. */
export const HIDDEN_FLAG = '--hidden';

/** What the login item needs of Electron's app. */
export interface LoginItemApp {
  setLoginItemSettings(settings: { openAtLogin: boolean; openAsHidden?: boolean; args?: string[] }): void;
  getLoginItemSettings(): { wasOpenedAtLogin?: boolean; wasOpenedAsHidden?: boolean };
}

export interface LoginItemHost {
  platform: NodeJS.Platform;
  app: LoginItemApp;
  /** What starts this Outpost again: the executable, and in development the app folder after it. */
  command: string[];
  home: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Start at login, the way each OS does it. macOS and Windows: Electron's login item (openAsHidden
 * on macOS up to 12; on 13 and later wasOpenedAtLogin tells the launch apart). Linux: Electron's
 * setLoginItemSettings does nothing there, so an XDG autostart entry, which every desktop that
 * follows freedesktop.org's Desktop Application Autostart spec (GNOME, KDE, Xfce…) runs at login.
 */
export function applyStartAtLogin(enabled: boolean, host: LoginItemHost): void {
  if (host.platform === 'linux') {
    const entry = autostartEntryPath(host.home, host.env);
    if (enabled) writeAutostartEntry(entry, [...host.command, HIDDEN_FLAG]);
    else rmSync(entry, { force: true });
    return;
  }
  if (host.platform === 'darwin') host.app.setLoginItemSettings({ openAtLogin: enabled, openAsHidden: true });
  else host.app.setLoginItemSettings({ openAtLogin: enabled, args: [HIDDEN_FLAG] });
}

/** Started at login: by our flag (Windows, Linux) or as macOS says. Then the window stays closed. */
export function startedAtLogin(argv: readonly string[], platform: NodeJS.Platform, app: Pick<LoginItemApp, 'getLoginItemSettings'>): boolean {
  if (argv.includes(HIDDEN_FLAG)) return true;
  if (platform !== 'darwin') return false;
  const settings = app.getLoginItemSettings();
  return Boolean(settings.wasOpenedAtLogin || settings.wasOpenedAsHidden);
}

/** $XDG_CONFIG_HOME/autostart/outpost.desktop, ~/.config by default (XDG Base Directory spec: a relative value is ignored). */
export function autostartEntryPath(home: string, env: NodeJS.ProcessEnv): string {
  const configured = env['XDG_CONFIG_HOME'];
  const config = configured && configured.startsWith('/') ? configured : join(home, '.config');
  return join(config, 'autostart', 'outpost.desktop');
}

/**
 * One argument of an Exec line (Desktop Entry spec, "The Exec key"): quoted when it holds a
 * reserved character, with `"`, `` ` ``, `$` and `\` escaped inside the quotes, and `%` doubled
 * so that no field code is read into it. A path with spaces or quotes stays one argument.
 */
export function execArgument(arg: string): string {
  const escapedPercent = arg.replace(/%/g, '%%');
  if (!/[\s"'\\><~|&;$*?#()`]/.test(escapedPercent)) return escapedPercent;
  return `"${escapedPercent.replace(/(["`$\\])/g, '\\$1')}"`;
}

function writeAutostartEntry(path: string, command: string[]): void {
  const entry = [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Outpost',
    'Comment=Run cloud agent sessions on this machine',
    `Exec=${command.map(execArgument).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
  mkdirSync(dirname(path), { recursive: true });
  // Whole or not at all: a half-written entry would start nothing, or the wrong thing.
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, entry, { mode: 0o644 });
  renameSync(partial, path);
}
