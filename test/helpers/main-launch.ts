/**
 * A main process (the built dist/electron/main.js, or the one unpacked from the packed app.asar)
 * launched under Node with the recording fake `electron`, and the scenarios both tests drive.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMain, type FakeElectron, type FakeOptions } from './fake-electron.js';

export class MainLauncher {
  readonly #folders: string[] = [];

  constructor(private readonly main: string) {}

  folder(): string {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-main-'));
    this.#folders.push(dir);
    return dir;
  }

  async launch(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
    const dir = this.folder();
    const electron = await loadMain(this.main, { platform: 'linux', userData: join(dir, 'data'), logs: join(dir, 'logs'), home: dir, ...options });
    electron.fireReady();
    await electron.until(() => electron.trays.length > 0 || electron.exitCode !== undefined);
    return electron;
  }

  /** First run on macOS: the window opens, closes to the tray, comes back on activate; Quit quits. */
  async firstRunToQuit(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
    const electron = await this.launch({ platform: 'darwin', ...options });
    assert.equal(electron.exitCode, undefined);
    assert.equal(electron.calls('protocol.registerSchemesAsPrivileged')[0]?.ready, false);
    const page = await electron.protocols.get('app')!(new Request('app://outpost/index.html'));
    assert.equal(page.status, 200, 'the renderer is served');
    const win = electron.windows[0]!;
    win.emit('ready-to-show');
    assert.equal(win.visible, true);
    win.userClose();
    assert.equal(win.visible, false);
    electron.app.emit('activate', {}, false);
    assert.equal(win.visible, true);
    electron.trays[0]!.choose('Quit');
    await electron.until(() => electron.quitted);
    return electron;
  }

  /** A data folder that cannot be made (a file stands in its path): a dialog with the reason, and exit 1. */
  async failedStart(options: Partial<FakeOptions> = {}): Promise<FakeElectron> {
    const dir = this.folder();
    writeFileSync(join(dir, 'file'), 'x');
    const electron = await this.launch({ env: { OUTPOST_DATA_DIR: join(dir, 'file', 'data') }, ...options });
    assert.equal(electron.exitCode, 1);
    assert.match(String(electron.calls('dialog.showErrorBox')[0]?.args[1]), /ENOTDIR/);
    return electron;
  }

  dispose(): void {
    for (const dir of this.#folders.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
