import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** bench/soak.ts --docker-restarts: only an engine the test command started, never the user's own. */
describe('the chaos soak', () => {
  // --sessions 0: were the refusal missing, the soak would end at once without restarting anything.
  const soak = (pidFile: string) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--sessions', '0', '--kills', '0', '--docker-restarts', '1'], {
      cwd: root,
      env: { ...process.env, OUTPOST_DOCKERD_PIDFILE: pidFile },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );

  it('refuses --docker-restarts with one clear line when no engine was recorded', async () => {
    const { code, stderr } = await soak(join(mkdtempSync(join(tmpdir(), 'outpost-soak-test-')), 'none.pid'));
    assert.equal(code, 64);
    assert.match(stderr, /^outpost soak: --docker-restarts restarts only a Docker engine that scripts\/test\.sh started \(none recorded\); .*\n$/);
  });

  it('refuses a recorded pid that is no longer a dockerd', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'outpost-soak-test-')), 'dockerd.pid');
    writeFileSync(file, `${process.pid}\n`);
    const { code, stderr } = await soak(file);
    assert.equal(code, 64);
    assert.match(stderr, new RegExp(`^outpost soak: --docker-restarts .*\\(the recorded pid ${process.pid} is not a dockerd\\)`));
  });

  it('the fleet soak (--workers N) refuses --docker-restarts: its workers are containers of that engine', async () => {
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bench/soak.ts', '--workers', '3', '--sessions', '0', '--docker-restarts', '1'], { cwd: root }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(result.code, 64);
    assert.match(result.stderr, /^outpost soak: --docker-restarts is not for the fleet soak/);
  });
});
