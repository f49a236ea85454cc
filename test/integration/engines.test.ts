import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { SESSION_IMAGE } from '../../electron/core/runtime/labels.js';
import { packageVersion } from '../../electron/core/runtime/session-image.js';
import { docker } from '../helpers/docker.js';
import { removeLeftContainers } from '../helpers/hostile-session.js';
import { sessionFiles } from '../helpers/session-files.js';
import { desktopUser, startWorker, type WorkerProcess } from '../helpers/worker.js';

const cli = fileURLToPath(new URL('../../dist/electron/core/cli.js', import.meta.url));
const asRoot = process.getuid?.() === 0;

interface Engine {
  name: string;
  host: string;
  /** Outpost runs as the desktop user (not root, in the docker group), as on a laptop; else as root. */
  asUser: boolean;
  /** The session's uid in its container, for the desktop user's uid. */
  sessionUid: (uid: number) => number;
  /** The engine's images are another store: Outpost's session image is loaded into it. */
  ownStore: boolean;
}

/** Every engine that runs here (scripts/lib/system.sh starts them), as the user Outpost runs as with each. */
function engines(): Engine[] {
  if (!asRoot) return [];
  const { uid } = desktopUser();
  return [
    // Servers, CI and these build machines: a root Outpost's sessions run as 65532.
    { name: 'rootful Docker, Outpost as root', host: 'unix:///var/run/docker.sock', asUser: false, sessionUid: () => 65532, ownStore: false },
    { name: 'rootful Docker, Outpost as a desktop user', host: 'unix:///var/run/docker.sock', asUser: true, sessionUid: (u) => u, ownStore: false },
    // The container's root is the user: the session runs there, with no capability.
    { name: 'rootless Docker', host: `unix:///run/user/${uid}/docker.sock`, asUser: true, sessionUid: () => 0, ownStore: true },
    // keep-id: the user is the same uid inside.
    { name: 'rootless Podman', host: `unix:///run/user/${uid}/podman/podman.sock`, asUser: true, sessionUid: (u) => u, ownStore: true },
    // Root's own engine, served by a root Outpost: sessions as 65532.
    { name: 'rootful Podman, Outpost as root', host: process.env['OUTPOST_TEST_PODMAN_HOST'] ?? 'unix:///run/podman-test.sock', asUser: false, sessionUid: () => 65532, ownStore: true },
  ];
}

const CAPABILITIES = /^Cap(Prm|Eff|Amb):\s+(\w+)$/gm;

/**
 * Outpost as a laptop with a rootless engine runs it: the worker as the desktop user, the engine that
 * user's own (rootless Docker, rootless Podman). On each, under `api` and `allowlist`, warm and cold: the
 * session writes its workspace, what it leaves is the user's, it holds no capability, and its API calls
 * cross the engine's user and network namespaces through the sidecar's attach stream. Then `outpost doctor`.
 */
for (const engine of engines()) {
  const client = new Docker({ socketPath: engine.host.slice('unix://'.length) });
  const absent = await client.ping().then(
    () => undefined,
    (e: Error) => `no engine answers at ${engine.host} (${e.message}); scripts/test.sh starts it (scripts/lib/system.sh)`,
  );

  // Bounded: an engine that dies mid-run (rootless Podman 4.3 once did) fails its suite rather than hold the run.
  describe(`sessions on ${engine.name}`, { skip: absent, timeout: 600_000 }, () => {
    const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
    const workers: WorkerProcess[] = [];
    before(async () => {
      await playground.start();
      // Outpost's session image, built on the rootful engine (scripts/test.sh), loaded into the engine's store.
      for (const tag of engine.ownStore ? ['latest', packageVersion()] : []) {
        const loading = await client.loadImage(await docker.getImage(`${SESSION_IMAGE}:${tag}`).get());
        await new Promise((resolve, reject) => client.modem.followProgress(loading, (e: Error | null) => (e ? reject(e) : resolve(undefined))));
      }
    });
    after(async () => {
      await removeLeftContainers(client, workers);
      await playground.close();
    });

    for (const policy of ['api', 'allowlist'])
      for (const warm of [true, false]) {
        it(`${policy}, ${warm ? 'warm' : 'cold'}: the session writes its workspace as the user, holds no capability, and reaches its API`, async () => {
          const user = desktopUser();
          const { environment, environmentKey } = playground.createEnvironment(`engines-${policy}-${warm ? 'warm' : 'cold'}`);
          const w = startWorker({
            baseUrl: playground.url,
            environmentId: environment.id,
            environmentKey,
            ...(engine.asUser ? { user } : {}),
            env: { DOCKER_HOST: engine.host },
            args: ['--egress', policy, '--warm', warm ? '1' : '0', '--max-sessions', '2'],
          });
          workers.push(w);
          await w.waitForOutput(/worker online/, 60_000);
          const command = 'id -u; echo mine > /workspace/left.txt; grep ^Cap /proc/self/status';
          const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command } }] });
          await w.waitForOutput(new RegExp(`work item ended work_id=${work.id} `), 90_000);
          const files = sessionFiles(w.dataDir, environment.id, work.id);
          assert.match(w.output(), new RegExp(`work item ended work_id=${work.id} status=finished`), readFileSync(files.log, 'utf8'));
          const said = playground.sessions.results(sessionId)[0]?.text ?? '';
          assert.equal(said.split('\n')[0], String(engine.sessionUid(user.uid)), said);
          const capabilities = [...said.matchAll(CAPABILITIES)];
          assert.equal(capabilities.length, 3, said);
          for (const [line, , mask] of capabilities) assert.equal(BigInt(`0x${mask}`), 0n, `no capability: ${line}`);
          const owner = engine.asUser ? user.uid : 65532;
          assert.equal(statSync(join(files.workspace, 'left.txt')).uid, owner, 'what the session left is the user’s own (a root Outpost’s sessions’: 65532’s)');
          if (warm) assert.match(w.output(), new RegExp(`session running work_id=${work.id} .*warm=true`));
          assert.match(readFileSync(files.log, 'utf8'), /\[egress\] allowed CONNECT 127\.0\.0\.1:\d+ \(api\)/);
          const [mode, kind] = engine.name.split(/[ ,]/);
          assert.match(w.output(), new RegExp(`Docker engine: ${kind} [^ ]+ \\(${mode}`));
          w.signal('SIGTERM');
          assert.equal(await w.exited, 0);
          const left = await client.listContainers({ all: true, filters: { label: [`outpost.install=${w.installId()}`] } });
          assert.deepEqual(left, [], 'nothing left running');
        });
      }

    it('outpost doctor: every check passes but the limits this engine cannot enforce, which it names', async () => {
      const user = desktopUser();
      const doctor = [process.execPath, cli, 'doctor', '--no-keychain', '--data-dir', join(engine.asUser ? user.home : mkdtempSync(join(tmpdir(), 'outpost-doctor-')), '.outpost-doctor-test')];
      const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
        execFile(
          engine.asUser ? 'setpriv' : doctor[0]!,
          engine.asUser ? [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...doctor] : doctor.slice(1),
          { env: { ...process.env, HOME: user.home, DOCKER_HOST: engine.host }, cwd: '/', timeout: 120_000 },
          (error, out) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout: out }),
        ),
      );
      const lines = stdout.trim().split('\n');
      for (const what of ['Docker engine: ', 'session image', 'session container: starts', 'data folder: ', 'workspace: a session', 'egress: a connection went end to end under allowlist']) {
        assert.ok(lines.some((l) => l.startsWith(`✔ ${what}`)), `✔ ${what}:\n${stdout}`);
      }
      assert.match(stdout, new RegExp(`\\(${engine.name.split(' ')[0]}, cgroup v`));
      const limits = lines.find((l) => l.includes('limits'));
      // This machine is cgroup v1: a rootless engine enforces no limit here, and doctor says so, failing.
      assert.equal(limits?.startsWith('✘'), engine.name.startsWith('rootless') && stdout.includes('cgroup v1'), stdout);
      if (limits?.startsWith('✘')) {
        assert.match(limits, /^✘ limits: this rootless engine on cgroup v1 enforces no memory, CPU or process limit/);
        assert.equal(code, 1);
      } else {
        assert.equal(code, 0, stdout);
      }
    });
  });
}
