/**
 * What `import … from 'electron'` gives a main process loaded by fake-electron.ts's loadMain():
 * each export forwards to the FakeElectron of the current load, so one test file can load main
 * several times, each with a fresh fake.
 */
import type { FakeElectron } from './fake-electron.js';

const current = (): FakeElectron => {
  const fake = (globalThis as { __outpostFakeElectron?: FakeElectron }).__outpostFakeElectron;
  if (!fake) throw new Error('fake electron: loadMain() installs it');
  return fake;
};

/** A stand-in that forwards property reads, writes, calls and `new` to the current fake's `name`. */
function forward<K extends keyof FakeElectron>(name: K): FakeElectron[K] {
  const target = () => current()[name] as object;
  return new Proxy<object>(function () {}, {
    get: (_t, key) => {
      const value = Reflect.get(target(), key);
      return typeof value === 'function' && !/^[A-Z]/.test(String(name)) ? value.bind(target()) : value;
    },
    set: (_t, key, value) => Reflect.set(target(), key, value),
    has: (_t, key) => Reflect.has(target(), key),
    construct: (_t, args) => Reflect.construct(target() as new (...a: unknown[]) => object, args),
  }) as never;
}

export const app = forward('app');
export const BrowserWindow = forward('BrowserWindow');
export const dialog = forward('dialog');
export const ipcMain = forward('ipcMain');
export const Menu = forward('Menu');
export const nativeImage = forward('nativeImage');
export const nativeTheme = forward('nativeTheme');
export const net = forward('net');
export const Notification = forward('Notification');
export const powerMonitor = forward('powerMonitor');
export const protocol = forward('protocol');
export const session = forward('session');
export const Tray = forward('Tray');
export const webContents = forward('webContents');
export default { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, nativeTheme, net, Notification, powerMonitor, protocol, session, Tray, webContents };
