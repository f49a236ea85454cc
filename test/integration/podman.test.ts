import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { FORWARDER_IMAGE } from '../../electron/core/runtime/egress-sidecar.js';
import { buildHandoverImage, docker } from '../helpers/docker.js';
import { HOLD_REFUSED, killUnderHold, removeLeftContainers } from '../helpers/hostile-session.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';

/** Podman's Docker-compatible API, rootful, as scripts/test.sh starts it (`podman system service`). */
const PODMAN_HOST = process.env['OUTPOST_TEST_PODMAN_HOST'] ?? 'unix:///run/podman-test.sock';
const podman = new Docker({ socketPath: PODMAN_HOST.replace(/^unix:\/\//, '') });
const absent = await podman.ping().then(
  () => undefined,
  (e: Error) => `no Podman API answers at ${PODMAN_HOST} (${e.message}); scripts/test.sh starts one (Debian: apt-get install podman catatonit)`,
);
const IMAGE = 'outpost-test-podman-session';

/**
 * Outpost's session image served through Podman's Docker-compatible API (DOCKER_HOST): the handover
 * reaches the runner whole — Podman once put dockerode's attach body on the container's stdin ahead of
 * it, and the runner failed in JSON.parse — and a session still outlives no lease. Real Podman, this
 * checkout's keeper and runner (built on Docker, loaded into Podman), the playground.
 */
describe('sessions on Podman', { skip: absent }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];

  before(async () => {
    await playground.start();
    await buildHandoverImage(IMAGE);
    // The session image, and Outpost's own for the egress forwarder the sidecar runs (FORWARDER_IMAGE).
    for (const image of [IMAGE, FORWARDER_IMAGE]) {
      const loading = await podman.loadImage(await docker.getImage(image).get());
      await new Promise((resolve, reject) => podman.modem.followProgress(loading, (e: Error | null) => (e ? reject(e) : resolve(undefined))));
    }
  });
  after(async () => {
    await removeLeftContainers(podman, workers);
    await podman.getImage(IMAGE).remove({ force: true }).catch(() => {});
    await playground.close();
  });

  for (const warm of [true, false]) {
    it(`${warm ? 'warm' : 'cold'}: the runner takes its handover and serves the session end to end`, async () => {
      const { environment, environmentKey } = playground.createEnvironment(`podman-${warm ? 'warm' : 'cold'}`);
      const w = startWorker({
        baseUrl: playground.url,
        environmentId: environment.id,
        environmentKey,
        args: ['--image', IMAGE, '--max-sessions', '1', '--warm', warm ? '1' : '0'],
        env: { DOCKER_HOST: PODMAN_HOST },
      });
      workers.push(w);
      const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo "served as $(id -u)"' } }] });
      await waitFor(`item ${work.id} to be stopped`, () => playground.record(work.id).item.state === 'stopped', 60_000);
      await w.waitForOutput(new RegExp(`work item ended work_id=${work.id} status=finished reason=exited 0`));
      assert.equal(playground.sessions.results(sessionId)[0]?.text.trim(), `served as ${process.getuid!() === 0 ? 65532 : process.getuid!()}`);
      if (warm) assert.match(w.output(), new RegExp(`session running work_id=${work.id} .*warm=true`));
      w.signal('SIGTERM');
      assert.equal(await w.exited, 0);
    });
  }

  // Under `api` and `allowlist`, warm and cold, with `outpost doctor`: engines.test.ts.

  for (const warm of [true, false]) {
    it(`${warm ? 'warm' : 'cold'}: a session holding every descriptor it can reach ends within seconds of its worker's SIGKILL`, async () => {
      const killed = await killUnderHold({ playground, image: IMAGE, warm, engine: podman, dockerHost: PODMAN_HOST, workers });
      assert.equal(killed.hold.isError, false, killed.hold.text);
      assert.ok(killed.msToEnd < 5_000, `within a few seconds (${killed.msToEnd} ms)`);
      assert.equal(killed.exitCode, 70, 'the keeper saw its Outpost go');
      assert.deepEqual(killed.late.map((r) => r.text), [], 'no tool result after the kill');
      for (const refused of HOLD_REFUSED) assert.match(killed.hold.text, refused, 'the session reached neither PID 1 nor the keeper');
    });
  }
});
