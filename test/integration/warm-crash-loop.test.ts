import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { HANDOVER_KEEPER, HANDOVER_LABEL, KEEPER_ENTRYPOINT } from '../../electron/core/runtime/labels.js';
import { buildDockerfile, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';

const IMAGE = 'outpost-test-warm-exits-early';

/**
 * Warm containers that end at once (as every one did under rootless Docker, where the session could
 * not write its workspace): the pool backs off, tells once what they printed, and serves cold meanwhile.
 */
describe('a warm pool whose containers end on their own', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const workers: WorkerProcess[] = [];

  before(async () => {
    await playground.start();
    // Its entrypoint stands where the keeper would (labels.ts takesHandover), says why it cannot go on, and ends.
    await buildDockerfile(
      IMAGE,
      [
        'FROM outpost-test-base:latest',
        `RUN mkdir -p /opt/outpost && printf '#!/bin/sh\\necho "keeper: cannot write /workspace: Permission denied" >&2\\nexit 3\\n' > ${KEEPER_ENTRYPOINT} && chmod 755 ${KEEPER_ENTRYPOINT}`,
        `LABEL ${HANDOVER_LABEL}=${HANDOVER_KEEPER}`,
        `ENTRYPOINT ["${KEEPER_ENTRYPOINT}"]`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
    await playground.close();
  });

  it('each replacement waits twice as long as the last; what it printed is told once; a session starts cold meanwhile', async () => {
    const { environment, environmentKey } = playground.createEnvironment('exits-early');
    const w = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--image', IMAGE, '--warm', '1', '--max-sessions', '2'] });
    workers.push(w);
    const ended = () => [...w.output().matchAll(/a warm container ended on its own[^\n]*(?:\n(?!\d{4}-)[^\n]*)*?retry_ms=(\d+)/g)].map((m) => Number(m[1]));
    await waitFor('four warm containers to have ended', () => (ended().length >= 4 ? true : null), 60_000);
    assert.deepEqual(ended().slice(0, 4), [1_000, 2_000, 4_000, 8_000], 'the pause doubles: no crash loop');
    assert.equal(w.output().match(/keeper: cannot write \/workspace: Permission denied/g)?.length, 1, 'what it printed is told once');
    assert.match(w.output(), /sessions start cold until one stays up/);

    const item = playground.enqueue(environment.id);
    await waitFor(`item ${item.id} to be stopped`, () => playground.record(item.id).item.state === 'stopped', 60_000);
    assert.doesNotMatch(w.output(), new RegExp(`work_id=${item.id}[^\\n]*warm=true`), 'never handed to a warm container that had ended');
    await w.waitForOutput(new RegExp(`work item ended work_id=${item.id} status=failed`));
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    assert.deepEqual(await outpostContainers(w.installId()), [], 'nothing left');
  });
});
