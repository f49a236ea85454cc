import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { buildScriptImage, outpostContainers } from '../helpers/docker.js';
import { startWorker, waitFor } from '../helpers/worker.js';

const cli = fileURLToPath(new URL('../../dist/electron/core/cli.js', import.meta.url));
const KEY = { OUTPOST_ENVIRONMENT_KEY: 'sk-ant-env-test-key-0123456789' };

/** The built command, run once to its end. */
function run(args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, ...KEY, ...env }, timeout: timeoutMs }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every flag mistake is one clear line and exit 64, before anything is claimed or left behind. */
describe('start-up checks with words', { skip: !existsSync(cli) && 'not built' }, () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 5 });

  before(async () => {
    await playground.start();
    await buildScriptImage('outpost-test-quick', 'echo quick; sleep 1');
  });
  after(() => playground.close());

  it('a flag out of bounds, a bad id, a missing network or an unusable data folder: exit 64, one line, nothing left', async () => {
    const { environment } = playground.createEnvironment('flags');
    const mistakes: Array<[string[], RegExp]> = [
      [['--max-sessions', '100'], /^outpost: --max-sessions: .*64/],
      [['--cpus', '1000'], /^outpost: --cpus: at most 256 CPUs$/],
      [['--cpus', '0.0001'], /^outpost: --cpus: at least 0\.01 CPUs$/],
      [['--memory', '99999999999999'], /^outpost: --memory: at most 1048576 MiB/],
      [['--drain-seconds', '5000'], /^outpost: --drain-seconds: .*3600/],
      [['--environment-id', 'env/..'], /^outpost: --environment-id: /],
      [['--network', 'outpost-no-such-net'], /^outpost: Docker has no network named outpost-no-such-net/],
      [['--data-dir', '/proc/outpost-nope'], /^outpost: --data-dir \/proc\/outpost-nope: cannot create folders there \(E[A-Z]+\)$/],
    ];
    for (const [flags, expected] of mistakes) {
      const dataDir = mkdtempSync(join(tmpdir(), 'outpost-flags-'));
      const args = ['worker', '--base-url', playground.url, '--environment-id', environment.id, '--data-dir', dataDir, '--image', 'outpost-test-quick', ...flags];
      const { code, stdout, stderr } = await run(args);
      const what = flags.join(' ');
      assert.equal(code, 64, `${what}: ${stderr}`);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: one line, not a stack or a ZodError (${stderr})`);
      assert.match(lines[0]!, expected, what);
      assert.doesNotMatch(stdout, /worker online/, `${what}: never came online`);
      const instances = join(dataDir, 'instances');
      assert.deepEqual(existsSync(instances) ? readdirSync(instances) : [], [], `${what}: no instance record left`);
    }
    assert.equal(playground.requests['work.poll'] ?? 0, 0, 'nothing was polled, let alone claimed');
  });

  it('DOCKER_HOST=ssh://… (not in the worker: its sessions\' folders are this machine\'s) is refused in words, before any claim', async () => {
    const { environment } = playground.createEnvironment('ssh');
    const polled = playground.requests['work.poll'] ?? 0;
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-ssh-'));
    const env = { DOCKER_HOST: 'ssh://someone:hunter2hunter2@docker.example.test' };
    for (const args of [
      ['worker', '--base-url', playground.url, '--environment-id', environment.id, '--data-dir', dataDir, '--image', 'outpost-test-quick', '--network', 'host'],
      ['image', 'build', '--offline'],
    ]) {
      const { code, stdout, stderr } = await run(args, 20_000, env);
      assert.equal(code, 64, `${args[0]}: ${stderr}`);
      assert.deepEqual(stderr.trim().split('\n'), [
        'outpost: DOCKER_HOST=ssh://… is not supported: Outpost runs sessions on this machine’s Docker engine (their folders are bind-mounted from here). ' +
          'Unset DOCKER_HOST, or set it to this machine’s engine (unix:///var/run/docker.sock).',
      ]);
      assert.doesNotMatch(stdout + stderr, /hunter2/, 'the value (it may carry a password) is not repeated');
      assert.doesNotMatch(stdout, /worker online/);
    }
    assert.equal(playground.requests['work.poll'] ?? 0, polled, 'nothing was polled, let alone claimed');
  });

  it('an unreachable control plane is named, with the cause', async () => {
    const port = await closedPort();
    const w = startWorker({ baseUrl: `http://127.0.0.1:${port}`, environmentId: 'env_unreachable', environmentKey: KEY.OUTPOST_ENVIRONMENT_KEY });
    await w.waitForOutput(new RegExp(`poll failed; backing off .*error=cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`));
    w.signal('SIGTERM');
    assert.equal(await w.exited, 0);
  });

  it('a closed stdout (EPIPE) neither stops the worker nor leaves a container behind', async () => {
    const { environment, environmentKey } = playground.createEnvironment('epipe');
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-epipe-'));
    const proc = spawn(process.execPath, [cli, 'worker', '--base-url', playground.url, '--environment-id', environment.id, '--data-dir', dataDir, '--image', 'outpost-test-quick', '--network', 'host'], {
      env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: environmentKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    // Like `outpost worker | head -1`: the reader goes away after the first line.
    await new Promise((resolve) => proc.stdout.once('data', resolve));
    proc.stdout.destroy();
    proc.stderr.destroy();
    const items = [playground.enqueue(environment.id), playground.enqueue(environment.id)];
    await waitFor('both items to run and be stopped', () => items.every((i) => playground.record(i.id).item.state === 'stopped'), 30_000);
    assert.equal(proc.exitCode, null, 'still running');
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal((await outpostContainers(readFileSync(join(dataDir, 'install-id'), 'utf8').trim())).length, 0);
  });
});
