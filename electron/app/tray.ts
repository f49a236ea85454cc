import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import { join } from 'node:path';
import type { WorkerState } from '../../shared/states.js';
import { trayIcon, trayMenu, trayTooltip, type TrayAction } from './tray-model.js';

export interface TrayDeps {
  tray: Pick<Tray, 'setImage' | 'setToolTip' | 'setContextMenu'>;
  buildMenu: (template: MenuItemConstructorOptions[]) => Menu;
  image: (path: string) => NativeImage;
  iconsFolder: string;
  onAction: (action: TrayAction) => void;
}

/** Renders the tray from the worker's state; it keeps no state of its own. */
export function renderTray(deps: TrayDeps, state: WorkerState): void {
  deps.tray.setImage(deps.image(join(deps.iconsFolder, `${trayIcon(state)}.png`)));
  deps.tray.setToolTip(trayTooltip(state));
  const template: MenuItemConstructorOptions[] = trayMenu(state).map((item) => {
    const action = item.action;
    return action
      ? { label: item.label, enabled: item.enabled, click: () => deps.onAction(action) }
      : { label: item.label, enabled: false };
  });
  template.splice(-2, 0, { type: 'separator' });
  deps.tray.setContextMenu(deps.buildMenu(template));
}
