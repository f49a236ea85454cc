import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../dist/electron/core/cli.js', import.meta.url));

function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'doctor', ...args], { env: { ...process.env, OUTPOST_KEYCHAIN_SERVICE: 'outpost-doctor-test', ...env }, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** `outpost doctor` against the real engine here, and against one that is not there. */
describe('outpost doctor', { skip: !existsSync(cli) && 'not built' }, () => {
  // The keychain is checked where a Secret Service runs (npm test runs under dbus-run-session); else skipped by its flag, and said.
  const keychain = process.env['DBUS_SESSION_BUS_ADDRESS'] ? [] : ['--no-keychain'];

  it('on this machine’s engine every line is ✔ and it exits 0', async () => {
    const { code, stdout, stderr } = await doctor(['--data-dir', mkdtempSync(join(tmpdir(), 'outpost-doctor-')), ...keychain], { DOCKER_HOST: '' });
    assert.equal(code, 0, stdout + stderr);
    const lines = stdout.trim().split('\n');
    for (const [i, what] of ['Docker engine: Docker ', 'rootful engine', 'session image', 'session container: starts', 'data folder: ', 'workspace: a session', 'egress: a connection went end to end under allowlist'].entries()) {
      assert.ok(lines[i]?.startsWith(`✔ ${what}`), `line ${i + 1} is ✔ ${what}: ${lines[i]}`);
    }
    assert.match(lines[7]!, keychain.length ? /^– keychain: not checked/ : /^✔ keychain: the system keychain answers/);
    assert.equal(lines.length, 8);
  });

  it('a Docker engine that is not there: ✘ with what to do, exit non-zero', async () => {
    const { code, stdout } = await doctor(['--no-keychain'], { DOCKER_HOST: 'unix:///tmp/outpost-no-engine-here.sock' });
    assert.equal(code, 1);
    assert.match(stdout, /^✘ Docker engine: nothing answers at unix:\/\/\/tmp\/outpost-no-engine-here\.sock \(found by DOCKER_HOST\).*Start Docker .*--docker-host or DOCKER_HOST\.$/m);
    assert.doesNotMatch(stdout, /✔/);
  });

  it('a keychain that does not answer: ✘ with the fix, and the way a headless worker does without one', async () => {
    const { code, stdout } = await doctor(['--data-dir', mkdtempSync(join(tmpdir(), 'outpost-doctor-'))], { DOCKER_HOST: '', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent' });
    assert.equal(code, 1);
    assert.match(stdout, /^✘ keychain: The system keychain is not available .*GNOME Keyring.*--no-keychain there\.$/m);
  });
});
