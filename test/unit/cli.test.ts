import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    // The key one way only, and a bad key file named without a word of its content.
    const base = ['worker', '--base-url', 'http://127.0.0.1:9', '--environment-id', 'env_x', '--data-dir', mkdtempSync(join(tmpdir(), 'outpost-cli-'))];
    const keyFile = join(mkdtempSync(join(tmpdir(), 'outpost-cli-key-')), 'key');
    writeFileSync(keyFile, 'sk-ant-key-in-a-file-0123456789\nsk-ant-second-line-0123456789\n');
    const twice = await run([...base, '--environment-key-file', keyFile], { OUTPOST_ENVIRONMENT_KEY: 'sk-ant-env-0123456789' });
    assert.equal(twice.code, 64);
    assert.match(twice.out, /the environment key came twice/);
    const twoLines = await run([...base, '--environment-key-file', keyFile], { OUTPOST_ENVIRONMENT_KEY: '' });
    assert.equal(twoLines.code, 64);
    assert.match(twoLines.out, /--environment-key-file .*: the key holds a space or a line break/);
    assert.doesNotMatch(twoLines.out, /sk-ant-key-in-a-file/);
    const unknown = await run(['worker', '--frobnicate']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.out, /frobnicate/);
  });
});
