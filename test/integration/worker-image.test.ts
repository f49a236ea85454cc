import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { packageVersion } from '../../electron/core/runtime/session-image.js';
import { buildWorkerImage, WORKER_IMAGE } from '../../electron/core/runtime/worker-image.js';
import { docker, dockerCli, outpostContainers } from '../helpers/docker.js';
import { waitFor } from '../helpers/worker.js';
import { containerLogs, runWorkerContainer, type WorkerContainer } from '../helpers/worker-container.js';
import { sessionFiles } from '../helpers/session-files.js';

const calls = [
  { name: 'bash', input: { command: 'echo "$((6 * 7))"; id -u' } },
  { name: 'write', input: { file_path: '/workspace/a.txt', content: 'from the worker image\n' } },
  { name: 'read', input: { file_path: '/workspace/a.txt' } },
];

/** `docker run … outpost-worker` serves the playground end to end, drains on SIGTERM, sweeps its own after kill -9. */
describe('the worker image', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const started: WorkerContainer[] = [];
  let url: string;

  before(async () => {
    url = await playground.start();
    // scripts/test.sh builds it; a test run on its own builds it here (offline, ~20 s).
    if (!(await docker.getImage(`${WORKER_IMAGE}:latest`).inspect().then(() => true, () => false))) {
      await buildWorkerImage({ docker, offline: true, version: packageVersion() });
    }
  });
  after(async () => {
    for (const w of started) {
      await dockerCli('rm', '-f', w.name).catch(() => {});
      for (const c of await outpostContainers(w.installId)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
    }
    await playground.close();
  });

  it('runs as uid 65532 under tini with Node 22, without dev dependencies or keytar', async () => {
    const info = await docker.getImage(`${WORKER_IMAGE}:latest`).inspect();
    assert.equal(info.Config.User, '65532:65532');
    assert.deepEqual(info.Config.Entrypoint, ['/usr/bin/tini', '--', 'node', '/opt/outpost/dist/electron/core/cli.js', 'worker']);
    const probe = await dockerCli('run', '--rm', '--network', 'none', '--entrypoint', 'node', `${WORKER_IMAGE}:latest`, '-e',
      "const fs=require('fs');console.log(process.version.split('.')[0], ['keytar','typescript','electron','dockerode','zod'].map(m=>fs.existsSync('/opt/outpost/node_modules/'+m)).join(','))");
    assert.equal(probe.trim(), 'v22 false,false,false,true,true');
  });

  it('refuses a data folder it does not own, in words, before anything starts', async () => {
    const rootOwned = mkdtempSync(join(tmpdir(), 'outpost-worker-root-'));
    chmodSync(rootOwned, 0o777);
    const out = await promisify(execFile)('docker', ['run', '--rm', '--network', 'none', '-e', 'OUTPOST_ENVIRONMENT_KEY=sk-ant-env-0123456789', '-v', `${rootOwned}:${rootOwned}`,
      `${WORKER_IMAGE}:latest`, '--base-url', 'http://127.0.0.1:9', '--environment-id', 'env_x', '--data-dir', rootOwned]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(out.code, 64);
    assert.equal(out.stderr, `outpost: --data-dir ${rootOwned}: belongs to uid 0, not to this worker's uid 65532 (chown it to 65532, or name a folder inside it)\n`);
  });

  it('serves a session end to end from a container, with the key from a secret file in neither its argv nor its environment', async () => {
    const { environment, environmentKey } = playground.createEnvironment('image');
    const { work, sessionId } = playground.createSession(environment.id, { calls });
    const w = await runWorkerContainer({ baseUrl: url, environmentId: environment.id, environmentKey, args: ['--grace-seconds', '2', '--drain-seconds', '5'] });
    started.push(w);
    await waitFor('the session to be served and its item stopped', () => playground.record(work.id).item.state === 'stopped', 90_000).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await containerLogs(w.name)}`);
    });
    const results = playground.sessions.results(sessionId);
    assert.equal(results.length, calls.length, `every tool call answered: ${JSON.stringify(results)}`);
    assert.match(JSON.stringify(results[0]), /42\\n65532/, 'the session ran, as the worker image\'s uid');
    assert.match(JSON.stringify(results[2]), /from the worker image/);
    assert.match(readFileSync(sessionFiles(w.dataDir, work.environment_id, work.id).log, 'utf8'), /./, 'the session log is in the data folder, on the host');
    const inspected = await docker.getContainer(w.name).inspect();
    assert.doesNotMatch(JSON.stringify([inspected.Args, inspected.Config.Env, inspected.Config.Cmd]), new RegExp(environmentKey));
    assert.doesNotMatch(await containerLogs(w.name), new RegExp(environmentKey));
    // docker stop sends SIGTERM to tini, which hands it to node: the worker drains and exits 0.
    await dockerCli('stop', w.name);
    const state = (await docker.getContainer(w.name).inspect()).State;
    assert.equal(state.ExitCode, 0, await containerLogs(w.name));
    assert.match(await containerLogs(w.name), /stopped|drain/i);
  });

  it('serves a session under the api egress policy: its proxy in the worker container, its forwarder beside the session', async () => {
    const { environment, environmentKey } = playground.createEnvironment('image-egress');
    const { work, sessionId } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'echo "$HTTPS_PROXY"; echo egress-ok' } }] });
    const w = await runWorkerContainer({ baseUrl: url, environmentId: environment.id, environmentKey, args: ['--egress', 'api', '--grace-seconds', '2', '--drain-seconds', '5'] });
    started.push(w);
    await waitFor('the session to be served through the proxy', () => playground.record(work.id).item.state === 'stopped', 90_000).catch(async (e: Error) => {
      throw new Error(`${e.message}\n${await containerLogs(w.name)}`);
    });
    assert.match(JSON.stringify(playground.sessions.results(sessionId)), /egress-ok/);
    await dockerCli('stop', w.name);
    assert.deepEqual(await outpostContainers(w.installId), [], 'the session and its forwarder are gone');
  });

  // Node's pid in a fresh container is 6 most times (8 at others): the same pid as its dead predecessor's, which a
  // pid-only liveness check took for alive. test/unit/paths.test.ts proves the same-pid case every time.
  it('after kill -9 and docker restart it sweeps the session container it left (same pid, new life) and stops its item', async () => {
    const { environment, environmentKey } = playground.createEnvironment('restart');
    const { work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: 'sleep 300' } }] });
    // What a restart must sweep is a session that outlives its worker: one served warm, or cold by an image that
    // takes a handover, ends itself when its worker dies (warm-pool.test.ts). Cold (--warm 0) on Outpost's image
    // without its handover label, the session gets its item in its environment and runs on.
    const image = 'outpost-test-session-env-only';
    await promisify(execFile)('sh', ['-c', `printf 'FROM outpost-session:latest\\nLABEL outpost.handover=\\n' | docker build -q -t ${image} -`]);
    const w = await runWorkerContainer({ baseUrl: url, environmentId: environment.id, environmentKey, args: ['--grace-seconds', '2', '--drain-seconds', '5', '--warm', '0', '--image', image] });
    started.push(w);
    const left = (await waitFor('the session container', async () => (await outpostContainers(w.installId)).find((c) => c.State === 'running'), 60_000))!;
    await dockerCli('kill', '--signal', 'KILL', w.name);
    assert.equal((await outpostContainers(w.installId)).length, 1, 'a killed worker leaves its session running');
    await dockerCli('start', w.name);
    await waitFor('the left container to be swept', async () => !(await outpostContainers(w.installId)).some((c) => c.Id === left.Id), 60_000);
    await waitFor('its item to be stopped', () => playground.record(work.id).item.state === 'stopped', 30_000);
    assert.match(await containerLogs(w.name), /removed a container left by an Outpost that stopped unexpectedly/);
    await dockerCli('stop', w.name);
    assert.deepEqual(await outpostContainers(w.installId), [], 'no container left behind');
  });
});
