import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseWorkerArgs } from '../../electron/core/cli/args.js';
import { engineHostPath } from '../../electron/core/runtime/host-path.js';

describe("a host folder in the form Docker Desktop's WSL2 engine takes for a bind mount", () => {
  it('C:\\Users\\a\\x is /run/desktop/mnt/host/c/Users/a/x: the drive lower-cased, the separators forward', () => {
    assert.equal(engineHostPath('C:\\Users\\a\\x', 'win32'), '/run/desktop/mnt/host/c/Users/a/x');
    assert.equal(engineHostPath('d:/Data/Outpost/workspaces/env_1/work_x', 'win32'), '/run/desktop/mnt/host/d/Data/Outpost/workspaces/env_1/work_x');
    assert.equal(engineHostPath('C:\\Users\\a\\AppData\\Roaming\\Outpost\\', 'win32'), '/run/desktop/mnt/host/c/Users/a/AppData/Roaming/Outpost');
    assert.equal(engineHostPath('C:\\', 'win32'), '/run/desktop/mnt/host/c');
    assert.equal(engineHostPath('\\\\?\\C:\\very\\long', 'win32'), '/run/desktop/mnt/host/c/very/long');
    assert.equal(engineHostPath('C:\\with space\\and\\ü', 'win32'), '/run/desktop/mnt/host/c/with space/and/ü');
  });

  it('a network share, a \\\\wsl$ path or a relative one is refused in words', () => {
    for (const path of ['\\\\server\\share\\x', '\\\\wsl$\\Ubuntu\\home\\a', 'relative\\x', 'C:relative']) {
      assert.throws(() => engineHostPath(path, 'win32'), /can bind-mount only a folder on a drive of this machine .*choose a data folder on a local drive/, path);
    }
  });

  it('on Linux and macOS the path is given as it is', () => {
    assert.equal(engineHostPath('/home/a/.local/share/outpost/workspaces/x', 'linux'), '/home/a/.local/share/outpost/workspaces/x');
    assert.equal(engineHostPath('/Users/a/Library/Application Support/Outpost/x', 'darwin'), '/Users/a/Library/Application Support/Outpost/x');
  });
});

describe('--pause-on-battery where the headless worker cannot read the power supply', () => {
  const argv = ['--base-url', 'https://api.anthropic.com', '--environment-id', 'env_1', '--pause-on-battery'];
  it('is refused in words on macOS and Windows (exit 64), taken on Linux', () => {
    for (const platform of ['darwin', 'win32'] as const) {
      const parsed = parseWorkerArgs([...argv, '--data-dir', mkdtempSync(join(tmpdir(), 'outpost-battery-'))], platform);
      assert.ok('exit' in parsed);
      assert.equal(parsed.exit, 64);
      assert.match(parsed.stderr ?? '', new RegExp(`--pause-on-battery: the headless worker reads the power supply only on Linux .*on ${platform} use the desktop app`));
    }
    const linux = parseWorkerArgs([...argv, '--data-dir', mkdtempSync(join(tmpdir(), 'outpost-battery-'))], 'linux');
    assert.ok('args' in linux && linux.args['pause-on-battery']);
  });
});
