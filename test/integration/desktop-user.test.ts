import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { outpostContainers } from '../helpers/docker.js';
import { sessionFiles } from '../helpers/session-files.js';
import { desktopUser, startWorker, type WorkerProcess } from '../helpers/worker.js';

const absent = process.getuid?.() !== 0 ? 'needs root to make the desktop user and run the worker as them' : undefined;

/**
 * Outpost as a laptop runs it: the worker as a desktop user in the docker group, not root, on the
 * default policy. The egress path (the sidecar's attach stream), the warm pair, the workspace a
 * session leaves (the user's own, readable) and a kill -9 with its sweep, all as that user.
 */
describe('a desktop user’s Outpost (not root, in the docker group), on the default policy', { skip: absent }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];
  before(async () => {
    await playground.start();
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await playground.close();
  });

  // Its sessions under `api` and `allowlist`, warm and cold, and `outpost doctor` as the user: engines.test.ts.

  it('killed outright, what it left is swept by the next start, as the same user', async () => {
    const user = desktopUser();
    const { environment, environmentKey } = playground.createEnvironment('desktop-user-kill');
    const args = ['--egress', 'allowlist', '--warm', '1'];
    const first = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, user, args });
    workers.push(first);
    await first.waitForOutput(/worker online/, 60_000);
    const { work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 60' } }] });
    await first.waitForOutput(new RegExp(`session running work_id=${work.id}`), 60_000);
    first.signal('SIGKILL');
    await first.exited;
    const next = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, user, args, dataDir: first.dataDir });
    workers.push(next);
    await next.waitForOutput(/removed a container left by an Outpost that stopped unexpectedly/, 30_000);
    next.signal('SIGTERM');
    assert.equal(await next.exited, 0);
    assert.deepEqual(await outpostContainers(next.installId()), [], 'the dead one’s session, sidecar and warm pair are gone');
  });
});
