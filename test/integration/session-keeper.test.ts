import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildHandoverImage, docker } from '../helpers/docker.js';
import { HOLD_REFUSED, killUnderHold, removeLeftContainers } from '../helpers/hostile-session.js';
import type { WorkerProcess } from '../helpers/worker.js';

const IMAGE = 'outpost-test-keeper-session';

/**
 * A session outlives no lease: when the Outpost that holds its lease is killed (SIGKILL, never
 * restarted), its container ends within seconds whatever the session did to keep it — the keeper,
 * not the runner (which shares the session's uid), holds the attach's stdin. Real Docker, the real
 * session image (this checkout's keeper and runner), the playground. podman.test.ts: the same on Podman.
 */
describe('a session outlives no lease', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];

  before(async () => {
    await playground.start();
    await buildHandoverImage(IMAGE);
  });
  after(async () => {
    await removeLeftContainers(docker, workers);
    await playground.close();
  });

  for (const warm of [true, false]) {
    it(`${warm ? 'warm' : 'cold'}: a session holding every descriptor it can reach ends within seconds of its worker's SIGKILL, and posts nothing after it`, async () => {
      const killed = await killUnderHold({ playground, image: IMAGE, warm, engine: docker, workers });
      assert.equal(killed.hold.isError, false, killed.hold.text);
      assert.ok(killed.msToEnd < 5_000, `within a few seconds (${killed.msToEnd} ms)`);
      assert.equal(killed.exitCode, 70, 'the keeper saw its Outpost go');
      assert.deepEqual(killed.late.map((r) => r.text), [], 'no tool result after the kill');
      for (const refused of HOLD_REFUSED) assert.match(killed.hold.text, refused, 'the session reached neither PID 1 nor the keeper');
    });
  }
});
