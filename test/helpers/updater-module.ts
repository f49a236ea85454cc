/**
 * What `import … from 'electron-updater'` gives a main process loaded by fake-electron.ts's loadMain():
 * its autoUpdater is the current fake's recording updater.
 */
import type { FakeElectron } from './fake-electron.js';

const current = (): FakeElectron => {
  const fake = (globalThis as { __outpostFakeElectron?: FakeElectron }).__outpostFakeElectron;
  if (!fake) throw new Error('fake electron: loadMain() installs it');
  return fake;
};

export default {
  get autoUpdater() {
    return current().updater;
  },
};
