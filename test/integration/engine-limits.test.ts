import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { createContainer } from '../../electron/core/runtime/create-container.js';
import { askEngine } from '../../electron/core/runtime/engine-report.js';
import { docker } from '../helpers/docker.js';
import { startWorker } from '../helpers/worker.js';

/** What the engine cannot enforce is said: read from the real engine here (rootful dockerd, cgroup v1). */
describe('what the engine cannot enforce', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 5 });
  before(() => playground.start());
  after(() => playground.close());

  it('the create answer’s Warnings reach Outpost (dockerode’s own createContainer drops them)', async () => {
    const name = `outpost-test-create-warning-${process.pid}`;
    // OomKillDisable without a memory limit: the one warning this engine gives for any host (its controllers are all there).
    const { container, warnings } = await createContainer(docker, { name, Image: 'outpost-test-base:latest', Cmd: ['true'], HostConfig: { OomKillDisable: true, NetworkMode: 'none' } });
    try {
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /OOM killer is disabled for the container, but no memory limit is set/);
    } finally {
      await container.remove({ force: true });
    }
  });

  it('the worker names the cgroup version /info gives, and raises no false alarm where every limit holds', async () => {
    const info = (await docker.info()) as { CgroupVersion?: string; MemoryLimit?: boolean; PidsLimit?: boolean; CpuCfsQuota?: boolean };
    const described = await askEngine(docker);
    const { environment, environmentKey } = playground.createEnvironment('limits');
    const w = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey, args: ['--image', 'outpost-test-base:latest', '--warm', '0'], env: { DOCKER_HOST: '' } });
    await w.waitForOutput(/worker online/);
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
    assert.match(w.output(), new RegExp(`Docker engine: Docker \\S+ \\(rootful, cgroup v${info.CgroupVersion}\\)`));
    if (info.MemoryLimit && info.PidsLimit && info.CpuCfsQuota) {
      assert.deepEqual(described.unenforced, []);
      assert.doesNotMatch(w.output(), /cannot enforce/);
    } else {
      assert.match(w.output(), /cannot enforce the sessions' limits/);
    }
  });
});
