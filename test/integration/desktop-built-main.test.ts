import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadMain, restoreProcess, type FakeElectron, type FakeOptions } from '../helpers/fake-electron.js';

/**
 * The built main process (dist/electron/main.js, what electron-builder packs), loaded under Node with
 * the recording fake `electron`: tsc's output and its imports resolve and behave as the source does —
 * first run, a failed start, close to the tray, activate, quit. Not yet the packed app.asar: that
 * needs electron-builder with a stand-in Electron distribution (README says what is not run here).
 */
const MAIN = fileURLToPath(new URL('../../dist/electron/main.js', import.meta.url));
const folders: string[] = [];
after(() => folders.forEach((d) => rmSync(d, { recursive: true, force: true })));
afterEach(() => restoreProcess());

async function launch(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-built-'));
  folders.push(dir);
  const electron = await loadMain(MAIN, { platform: 'linux', userData: join(dir, 'data'), logs: join(dir, 'logs'), home: dir, ...options });
  electron.fireReady();
  await electron.until(() => electron.trays.length > 0 || electron.exitCode !== undefined);
  return electron;
}

describe('the built main process', { skip: !existsSync(MAIN) && 'not built (npm run build)' }, () => {
  it('first run, close to the tray, activate, quit', async () => {
    const electron = await launch({ platform: 'darwin' });
    assert.equal(electron.exitCode, undefined);
    assert.equal(electron.calls('protocol.registerSchemesAsPrivileged')[0]?.ready, false);
    const page = await electron.protocols.get('app')!(new Request('app://outpost/index.html'));
    assert.equal(page.status, 200, 'the renderer is served from dist/renderer');
    const win = electron.windows[0]!;
    win.emit('ready-to-show');
    assert.equal(win.visible, true);
    win.userClose();
    assert.equal(win.visible, false);
    electron.app.emit('activate', {}, false);
    assert.equal(win.visible, true);
    electron.trays[0]!.choose('Quit');
    await electron.until(() => electron.quitted);
  });

  it('a failed start: a dialog with the reason, and exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-built-'));
    folders.push(dir);
    writeFileSync(join(dir, 'file'), 'x');
    const electron = await launch({ env: { OUTPOST_DATA_DIR: join(dir, 'file', 'data') } });
    assert.equal(electron.exitCode, 1);
    assert.match(String(electron.calls('dialog.showErrorBox')[0]?.args[1]), /ENOTDIR/);
  });
});
