import { existsSync } from 'node:fs';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { restoreProcess } from '../helpers/fake-electron.js';
import { MainLauncher } from '../helpers/main-launch.js';

/**
 * The built main process (dist/electron/main.js, the esbuild bundle electron-builder packs), loaded
 * under Node with the recording fake `electron`: it and what it loads resolve and behave as the
 * source does — first run, a failed start, close to the tray, activate, quit. The packed app.asar
 * is driven the same way by packaged-app.test.ts.
 */
const MAIN = fileURLToPath(new URL('../../dist/electron/main.js', import.meta.url));
const main = new MainLauncher(MAIN);
after(() => main.dispose());
afterEach(() => restoreProcess());

describe('the built main process', { skip: !existsSync(MAIN) && 'not built (npm run build)' }, () => {
  it('first run, close to the tray, activate, quit', async () => {
    await main.firstRunToQuit();
  });

  it('a failed start: a dialog with the reason, and exit', async () => {
    await main.failedStart();
  });
});
