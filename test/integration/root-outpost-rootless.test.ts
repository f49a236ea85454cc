import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { desktopUser, startWorker } from '../helpers/worker.js';

const main = fileURLToPath(new URL('../../electron/core/cli/main.ts', import.meta.url));
const asRoot = process.getuid?.() === 0;
const WORDS = /Outpost runs as root, and this (Docker|Podman) engine is rootless: it runs as the user who started it, and cannot reach root's data folder nor write a session's workspace/;

/**
 * A root Outpost pointed at a desktop user's rootless engine (DOCKER_HOST copied from that user's shell):
 * every session would fail at its bind mount (the engine cannot enter root's data folder) or its first
 * write (no uid it maps owns a 65532 workspace). The worker refuses before its first claim, and doctor
 * says why in one line, rather than a workspace error and a container that "starts".
 */
for (const [name, socket] of [
  ['rootless Docker', 'docker.sock'],
  ['rootless Podman', 'podman/podman.sock'],
] as const) {
  const path = asRoot ? `/run/user/${desktopUser().uid}/${socket}` : '';
  const absent = !asRoot ? 'needs root' : !existsSync(path) ? `no ${name} at ${path}; scripts/test.sh starts it` : await new Docker({ socketPath: path }).ping().then(() => undefined, (e: Error) => `${name} does not answer: ${e.message}`);

  describe(`a root Outpost and the desktop user's ${name}`, { skip: absent }, () => {
    it('the worker refuses before its first claim, in words', async () => {
      const w = startWorker({ baseUrl: 'http://127.0.0.1:9', environmentId: 'env_root', environmentKey: 'sk-test-root-outpost', env: { DOCKER_HOST: `unix://${path}` }, args: ['--egress', 'api', '--warm', '0'] });
      assert.equal(await w.exited, 64, w.output());
      assert.match(w.output(), WORDS);
      assert.match(w.output(), /Run Outpost as the engine’s user, or choose a rootful engine/);
      assert.doesNotMatch(w.output(), /worker online|sessions run as/);
    });

    it('outpost doctor: one ✘ that says why, and nothing tried that would fail for the same reason', async () => {
      const dataDir = join(mkdtempSync(join(tmpdir(), 'outpost-doctor-')), 'data');
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', main, 'doctor', '--no-keychain', '--data-dir', dataDir], { env: { ...process.env, DOCKER_HOST: `unix://${path}` }, timeout: 60_000 }, (error, out) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: out }),
        ),
      );
      assert.equal(code, 1, stdout);
      const lines = stdout.trim().split('\n');
      assert.match(lines[0]!, /^✔ Docker engine: .*\(rootless/);
      assert.match(lines[1]!, /^✘ sessions: /);
      assert.match(lines[1]!, WORDS);
      assert.equal(lines.length, 2, stdout);
    });
  });
}
