import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Docker from 'dockerode';
import { DockerRuntime } from '../../electron/core/runtime/docker.js';
import { askEngine, engineCandidates, engineReport } from '../../electron/core/runtime/engine-report.js';

const PODMAN_VERSION = { Version: '4.3.1', Components: [{ Name: 'Podman Engine', Version: '4.3.1' }] };

const dir = mkdtempSync(join(tmpdir(), 'outpost-engine-report-'));
const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A Docker API on a unix socket that answers /version and /info with what a test gives (or never, when
 * `hang`), and Podman's /libpod/info with `libpod` (never, when 'hang').
 */
async function fakeEngine(path: string, answers: { version?: unknown; info?: unknown; hang?: boolean; libpod?: unknown }): Promise<Docker> {
  mkdirSync(join(path, '..'), { recursive: true });
  const server = createServer((req, res) => {
    if (answers.hang) return;
    const libpod = /\/libpod\/info$/.test(req.url ?? '');
    if (libpod && answers.libpod === 'hang') return;
    const body = libpod ? answers.libpod : /\/version$/.test(req.url ?? '') ? answers.version : /\/info$/.test(req.url ?? '') ? answers.info : {};
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  servers.push(server);
  return new Docker({ socketPath: path });
}

describe('what an engine says, as the window shows it', () => {
  it('a hostile answer is bounded and typed: a huge version cut short, fields of the wrong type read as absent', async () => {
    const docker = await fakeEngine(join(dir, 'hostile.sock'), {
      version: { Version: 'x'.repeat(1_000_000), Components: [{ Name: 'Engine', Version: 42 }, 'junk'], Platform: 'not an object' },
      info: { MemoryLimit: 'no', PidsLimit: false, SecurityOptions: 'name=rootless', CgroupVersion: 2, OperatingSystem: ['x'] },
    });
    const d = await askEngine(docker);
    assert.equal(d.kind, 'Docker');
    assert.equal(d.version, 'x'.repeat(200));
    // SecurityOptions not a list: not rootless. MemoryLimit not a boolean: not said to be missing. PidsLimit false: said.
    assert.equal(d.rootless, false);
    assert.equal(d.cgroupVersion, undefined);
    assert.deepEqual(d.unenforced, ['process limits (--pids) are not enforced: the engine has no pids cgroup']);
  });

  it('an engine that never answers is said not to, within the time given', async () => {
    const docker = await fakeEngine(join(dir, 'hung.sock'), { hang: true });
    const started = Date.now();
    await assert.rejects(askEngine(docker, 300), /no answer within 0.3 s/);
    assert.ok(Date.now() - started < 2000);
  });

  it('a Podman (or a proxy that says it is one) whose /libpod/info never answers is said not to, within the time given', async () => {
    const docker = await fakeEngine(join(dir, 'podman-hung.sock'), { version: PODMAN_VERSION, info: {}, libpod: 'hang' });
    const started = Date.now();
    await assert.rejects(askEngine(docker, 300), /no answer within 0.3 s/);
    assert.ok(Date.now() - started < 2000);
    // The session's uid follows from the answer: none is no guess, and the next start asks again.
    await assert.rejects(new DockerRuntime(docker).userMapping(), /the Docker engine did not say what it is: no answer within 5 s/);
  });

  it('an engine down when Outpost starts and up later: the first start fails in words, the next one maps the user as that engine does', async () => {
    const path = join(dir, 'later.sock');
    const runtime = new DockerRuntime(new Docker({ socketPath: path }));
    await assert.rejects(runtime.userMapping(), /the Docker engine did not say what it is/);
    await fakeEngine(path, { version: PODMAN_VERSION, info: {}, libpod: { host: { security: { rootless: true } } } });
    // A rootless Podman: keep-id for a desktop user; the host's root is refused (a user's engine cannot reach root's data folder).
    if (process.getuid?.() !== 0) assert.equal(await runtime.userMapping(), 'keep-id');
    else await assert.rejects(runtime.userMapping(), /^Error: Outpost runs as root, and this Podman engine is rootless/);
  });

  it('the engines found here: the automatic choice first, each other engine’s socket once (one socket by two paths is one engine)', async () => {
    const home = join(dir, 'home');
    await fakeEngine(join(home, '.docker/run/docker.sock'), { version: { Version: '27.0.1', Platform: { Name: 'Docker Desktop 4.30' } }, info: { OperatingSystem: 'Docker Desktop' } });
    await fakeEngine(join(home, '.colima/default/docker.sock'), { version: { Version: '25.0.0' }, info: { Name: 'colima' } });
    const search = { home, env: {}, platform: 'linux' as const };
    const hosts = engineCandidates(search).map((c) => c.host);
    assert.deepEqual(hosts.slice(0, 2), [`unix://${home}/.docker/run/docker.sock`, `unix://${home}/.colima/default/docker.sock`]);
    assert.equal(new Set(hosts).size, hosts.length);
    // /run/docker.sock and /var/run/docker.sock, where both are there, are one.
    assert.ok(!(hosts.includes('unix:///run/docker.sock') && hosts.includes('unix:///var/run/docker.sock')));

    const inUse = { host: `unix://${home}/.colima/default/docker.sock`, foundBy: 'the Docker engine setting (dockerHost in settings.json)' };
    const report = await engineReport({ inUse: { endpoint: inUse, docker: new Docker({ socketPath: `${home}/.colima/default/docker.sock` }) }, setting: inUse.host, search });
    assert.equal(report.inUse?.line, `Colima 25.0.0 (rootful) at ${inUse.host}, found by ${inUse.foundBy}`);
    assert.equal(report.found[0]?.host, inUse.host, 'the engine in use first');
    assert.equal(report.found.filter((f) => f.host === inUse.host).length, 1);
    assert.equal(report.found.find((f) => f.host.endsWith('.docker/run/docker.sock'))?.engine?.kind, 'Docker Desktop');
    assert.equal(report.settingPending, false);
    // The setting changed to the other engine: taken at the next open.
    const changed = await engineReport({ inUse: { endpoint: inUse, docker: new Docker({ socketPath: `${home}/.colima/default/docker.sock` }) }, setting: `unix://${home}/.docker/run/docker.sock`, search });
    assert.equal(changed.settingPending, true);
  });
});
