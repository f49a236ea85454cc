import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { startWorker, waitFor } from '../helpers/worker.js';

const ENVIRONMENT_KEY = 'sk-ant-env-in-the-environ-0123456789';
const API_KEY = 'sk-ant-api-in-the-environ-0123456789';
const DB_PASSWORD = 'db-password-in-the-environ-0123';

/**
 * Deleting a variable from process.env leaves it in the block the kernel shows as /proc/<pid>/environ:
 * anyone who can read that file (the same user, root, a session given /proc) would read the keys there.
 */
describe('the worker’s keys are not in its /proc/<pid>/environ', { skip: process.platform !== 'linux' && 'Linux only' }, () => {
  const playground = new AnthropicPlayground();
  before(() => playground.start());
  after(() => playground.close());

  it('a real spawned worker holds the environment key, the API key and a secret variable in memory only', async () => {
    const { environment, environmentKey } = playground.createEnvironment('environ');
    void environmentKey;
    const worker = startWorker({
      baseUrl: playground.url,
      environmentId: environment.id,
      environmentKey: ENVIRONMENT_KEY,
      args: ['--dashboard', '--secret-env', 'DB_PASSWORD', '--warm', '0'],
      env: { OUTPOST_API_KEY: API_KEY, DB_PASSWORD, OUTPOST_KEYCHAIN_SERVICE: `Outpost-test-environ-${process.pid}` },
    });
    try {
      // Running: it has asked the control plane for work (with a key the plane refuses, or not: either way it read its keys).
      await waitFor('the worker to poll', () => Object.values(playground.requests).some((n) => (n ?? 0) > 0) || worker.output().includes('Dashboard:'), 30_000);
      const environ = readFileSync(`/proc/${worker.proc.pid}/environ`, 'utf8');
      assert.ok(environ.includes('OUTPOST_KEYCHAIN_SERVICE='), 'the block was read (the other variables are there)');
      for (const [name, value] of [['OUTPOST_ENVIRONMENT_KEY', ENVIRONMENT_KEY], ['OUTPOST_API_KEY', API_KEY], ['DB_PASSWORD', DB_PASSWORD]]) {
        assert.ok(!environ.includes(value!), `${name}'s value is in /proc/${worker.proc.pid}/environ`);
      }
    } finally {
      worker.signal('SIGKILL');
      await worker.exited;
    }
  });
});
