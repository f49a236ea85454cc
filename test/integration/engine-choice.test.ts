import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildScriptImage, docker } from '../helpers/docker.js';
import { removeLeftContainers } from '../helpers/hostile-session.js';
import { startWorker, waitFor, type WorkerProcess } from '../helpers/worker.js';

/** Two engines answer on this machine: the rootful dockerd and Podman's API as scripts/test.sh starts it. */
const PODMAN_HOST = process.env['OUTPOST_TEST_PODMAN_HOST'] ?? 'unix:///run/podman-test.sock';
const podman = new Docker({ socketPath: PODMAN_HOST.replace(/^unix:\/\//, '') });
const absent = await podman.ping().then(
  () => undefined,
  (e: Error) => `no Podman API answers at ${PODMAN_HOST} (${e.message}); scripts/test.sh starts one`,
);
/** Only on Podman: a session that ran proves which engine ran it. */
const PODMAN_ONLY_IMAGE = 'outpost-test-engine-choice';

/** A home whose ~/.docker has the current context set to Podman, as `docker context use` leaves it. */
function homeWithContext(name: string, host: string): string {
  const home = mkdtempSync(join(tmpdir(), 'outpost-engine-choice-home-'));
  const id = createHash('sha256').update(name).digest('hex');
  mkdirSync(join(home, '.docker/contexts/meta', id), { recursive: true });
  writeFileSync(join(home, '.docker/contexts/meta', id, 'meta.json'), JSON.stringify({ Name: name, Metadata: {}, Endpoints: { docker: { Host: host, SkipTLSVerify: false } } }));
  writeFileSync(join(home, '.docker/config.json'), JSON.stringify({ auths: {}, currentContext: name }));
  return home;
}

describe('the engine is found as the docker CLI finds it, and named', { skip: absent }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 5 });
  const workers: WorkerProcess[] = [];
  const home = homeWithContext('podman-test', PODMAN_HOST);

  before(async () => {
    await playground.start();
    await buildScriptImage(PODMAN_ONLY_IMAGE, 'echo "ran here"');
    const loading = await podman.loadImage(await docker.getImage(PODMAN_ONLY_IMAGE).get());
    await new Promise((resolve, reject) => podman.modem.followProgress(loading, (e: Error | null) => (e ? reject(e) : resolve(undefined))));
    await docker.getImage(PODMAN_ONLY_IMAGE).remove({ force: true });
  });
  after(async () => {
    await removeLeftContainers(podman, workers);
    await podman.getImage(PODMAN_ONLY_IMAGE).remove({ force: true }).catch(() => {});
    await playground.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('the current Docker context names Podman: the worker says so in its first lines and its sessions run there', async () => {
    const { environment, environmentKey } = playground.createEnvironment('context');
    const w = startWorker({
      baseUrl: playground.url,
      environmentId: environment.id,
      environmentKey,
      args: ['--image', PODMAN_ONLY_IMAGE, '--warm', '0'],
      env: { HOME: home, DOCKER_HOST: '', DOCKER_CONTEXT: '' },
    });
    workers.push(w);
    await w.waitForOutput(/worker online/);
    const engineLine = w.output().split('\n').find((l) => l.includes('Docker engine:'));
    assert.match(engineLine ?? '', /Docker engine: Podman \d+\.\d+\.\d+ \(rootful, cgroup v\d\) at unix:\/\/\/run\/podman-test\.sock, found by the Docker context podman-test \(named by .*\.docker\/config\.json \(currentContext\)\)/);
    assert.ok(w.output().indexOf('Docker engine:') < w.output().indexOf('worker online'), 'named before the worker comes online');
    const { work } = playground.createSession(environment.id, { calls: [] });
    await waitFor(`item ${work.id} to be stopped`, () => playground.record(work.id).item.state === 'stopped', 60_000);
    await w.waitForOutput(new RegExp(`work item ended work_id=${work.id} status=finished reason=exited 0`));
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('--docker-host wins over the context; the settings’ dockerHost over DOCKER_HOST', async () => {
    const { environment, environmentKey } = playground.createEnvironment('flag');
    const flagged = startWorker({
      baseUrl: playground.url,
      environmentId: environment.id,
      environmentKey,
      args: ['--image', PODMAN_ONLY_IMAGE, '--warm', '0', '--docker-host', 'unix:///var/run/docker.sock'],
      env: { HOME: home, DOCKER_HOST: '' },
    });
    workers.push(flagged);
    await flagged.waitForOutput(/worker online/);
    assert.match(flagged.output(), /Docker engine: Docker \S+ \(rootful, cgroup v\d\) at unix:\/\/\/var\/run\/docker\.sock, found by the --docker-host flag/);
    flagged.signal('SIGTERM');
    assert.equal(await flagged.exited, 0);

    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-engine-setting-'));
    writeFileSync(join(dataDir, 'settings.json'), JSON.stringify({ version: 1, dockerHost: PODMAN_HOST }));
    const set = startWorker({
      baseUrl: playground.url,
      environmentId: environment.id,
      environmentKey,
      dataDir,
      args: ['--image', PODMAN_ONLY_IMAGE, '--warm', '0'],
      env: { HOME: home, DOCKER_HOST: 'unix:///var/run/docker.sock' },
    });
    workers.push(set);
    await set.waitForOutput(/worker online/);
    assert.match(set.output(), /Docker engine: Podman \S+ .* at unix:\/\/\/run\/podman-test\.sock, found by the Docker engine setting/);
    set.signal('SIGTERM');
    assert.equal(await set.exited, 0);
  });
});
