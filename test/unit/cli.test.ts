import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)('npx', ['--no-install', 'outpost', ...args], { cwd: root, env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );

describe('the built `outpost` command (npx outpost, after npm run build)', { skip: !existsSync(`${root}/dist/electron/core/cli.js`) && 'not built' }, () => {
  it('prints its usage', async () => {
    const { code, out } = await run(['worker', '--help']);
    assert.equal(code, 0);
    assert.match(out, /outpost worker --base-url URL --environment-id ID/);
    assert.match(out, /--max-sessions N/);
  });

  it('refuses bad input with a clear message and exit 64', async () => {
    const noKey = await run(['worker', '--base-url', 'http://127.0.0.1:9', '--environment-id', 'env_x'], { OUTPOST_ENVIRONMENT_KEY: '' });
    assert.equal(noKey.code, 64);
    assert.match(noKey.out, /set OUTPOST_ENVIRONMENT_KEY/);
    const badNumber = await run(['worker', '--base-url', 'http://127.0.0.1:9', '--environment-id', 'env_x', '--max-sessions', 'many'], { OUTPOST_ENVIRONMENT_KEY: 'k' });
    assert.equal(badNumber.code, 64);
    assert.match(badNumber.out, /--max-sessions/);
    const unknown = await run(['worker', '--frobnicate']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.out, /frobnicate/);
  });
});
