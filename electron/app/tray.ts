import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import { join } from 'node:path';
import type { WorkerState } from '../../shared/states.js';
import { trayIcon, trayMenu, trayTooltip, type TrayAction, type TrayIcon } from './tray-model.js';
import type { UpdateOffer } from './updates.js';

export interface TrayDeps {
  tray: Pick<Tray, 'setImage' | 'setToolTip' | 'setContextMenu'>;
  buildMenu: (template: MenuItemConstructorOptions[]) => Menu;
  image: (path: string) => NativeImage;
  iconsFolder: string;
  /** The platform's icon set: on macOS the Template images (black and alpha: the menu bar tints them for light and dark). */
  platform: NodeJS.Platform;
  onAction: (action: TrayAction) => void;
}

/** An icon's file: macOS treats a name ending in Template (and its @2x) as a template image. */
export function trayIconPath(folder: string, icon: TrayIcon, platform: NodeJS.Platform): string {
  return join(folder, platform === 'darwin' ? `${icon}Template.png` : `${icon}.png`);
}

/** Renders the tray from the worker's state and the update on offer; it keeps no state of its own. */
export function renderTray(deps: TrayDeps, state: WorkerState, update?: UpdateOffer): void {
  deps.tray.setImage(deps.image(trayIconPath(deps.iconsFolder, trayIcon(state), deps.platform)));
  deps.tray.setToolTip(trayTooltip(state));
  const template: MenuItemConstructorOptions[] = trayMenu(state, update).map((item) => {
    const action = item.action;
    return action
      ? { label: item.label, enabled: item.enabled, click: () => deps.onAction(action) }
      : { label: item.label, enabled: false };
  });
  template.splice(template.findIndex((item) => item.label === 'Open Outpost'), 0, { type: 'separator' });
  deps.tray.setContextMenu(deps.buildMenu(template));
}
