import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { BridgePlayground } from '../../playground/bridge.js';
import { environmentProfileSchema, type EgressConnection, type ServiceEvent } from '../../shared/contract.js';
import { createLogger } from '../../electron/core/logs/log.js';
import { originOf } from '../../electron/core/secrets/key-origins.js';
import { Outpost } from '../../electron/core/outpost.js';
import type { Resolver } from '../../electron/core/egress/proxy.js';
import { startEgressSidecar } from '../../electron/core/runtime/egress-sidecar.js';
import { sessionUser } from '../../electron/core/runtime/workspace.js';
import { buildScriptImage, docker, inspectAll, outpostContainers } from '../helpers/docker.js';
import { memorySecrets } from '../helpers/secrets.js';
import { waitFor } from '../helpers/worker.js';
import { sessionFiles } from '../helpers/session-files.js';

/** What a session's `node` makes of one fetch through its environment (NODE_USE_ENV_PROXY from the proxy's variables). */
const probe = (url: string, env = '') =>
  `${env} node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(8000) }).then((r) => r.text()).then((t) => console.log("reached", t), (e) => console.log("failed", String(e.cause?.code ?? e.cause?.message ?? e.message)))' ${url} 2>/dev/null`;

/** 24 MiB that no two offsets repeat: a download that comes through short, reordered or twice shows in its hash. */
const BIG = Buffer.alloc(24 * 2 ** 20);
for (let i = 0; i < BIG.length; i += 4) BIG.writeUInt32BE(i, i);
const BIG_SHA256 = createHash('sha256').update(BIG).digest('hex');

/**
 * Egress policies against real Docker: the session has loopback only; its one way out is
 * Outpost's proxy behind a forwarder sidecar. Every server is on 127.0.0.x (DESIGN §3); the proxy's
 * name lookups are pointed at them.
 */
describe('egress control: a session reaches what its environment allows, and nothing else', () => {
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 4 });
  const servers: Server[] = [];
  const port: Record<string, number> = {};
  const names: Record<string, string[]> = { 'pkg.test': ['127.0.0.2'], 'x.mirror.test': ['127.0.0.3'], 'intranet.test': ['127.0.0.4'], 'unlisted.test': ['127.0.0.2'] };
  const resolver: Resolver = async (host) => {
    if (!names[host]) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return names[host];
  };
  const opened: Outpost[] = [];

  before(async () => {
    await docker.getImage('outpost-session:latest').inspect(); // built by scripts/test.sh (outpost image build --offline)
    await playground.start();
    // 127.0.0.1: a service of the host's own (a dev server, a database) that no session may reach.
    for (const address of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const server = createServer((req, res) => res.end(req.url === '/big' ? BIG : `hello from ${address}`));
      await new Promise<void>((r) => server.listen(0, address, r));
      servers.push(server);
      port[address] = (server.address() as { port: number }).port;
    }
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    for (const s of servers) s.close();
    await playground.close();
  });

  async function serve(profile: Record<string, unknown>, dataDir = mkdtempSync(join(tmpdir(), 'outpost-egress-'))) {
    const { environment, environmentKey } = playground.createEnvironment('egress');
    const logger = createLogger({ format: 'text', sink: { write: () => {} } });
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger, egressResolver: resolver });
    opened.push(outpost);
    const events: ServiceEvent[] = [];
    outpost.events.on((e) => void events.push(e));
    const parsed = environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, graceSeconds: 1, ...profile });
    await secrets.set({ kind: 'environment-key', environmentId: parsed.environmentId }, environmentKey, originOf(parsed.baseUrl));
    await outpost.serve(parsed);
    const installId = readFileSync(join(dataDir, 'install-id'), 'utf8').trim();
    const connections = () => events.flatMap((e) => (e.name === 'egress' ? [e.payload as EgressConnection] : []));
    return { outpost, dataDir, environmentId: environment.id, installId, connections };
  }

  const ended = async (outpost: Outpost, workId: string) => (await waitFor(`item ${workId} to end`, () => outpost.history.list().find((h) => h.workId === workId), 60_000))!;

  it('allowlist: a listed name and a *.domain are reached, the rest refused and logged; the session sees no socket, no host loopback, no way around', async () => {
    // The test servers listen on ports of their own: a name is open on 443 and 80 unless its entry names another.
    // Cold: the containers are found by the item's label while it runs (a warm pair's carry none: the claim names them).
    const served = await serve({ egress: 'allowlist', warm: 0, allowHosts: [`pkg.test:${port['127.0.0.2']}`, `*.mirror.test:${port['127.0.0.3']}`, `intranet.test:${port['127.0.0.4']}`, '127.0.0.2', '127.0.0.3'] });
    const { sessionId, work } = playground.createSession(served.environmentId, {
      calls: [
        { name: 'bash', input: { command: probe(`http://pkg.test:${port['127.0.0.2']}/`) } },
        // A plain http:// request in absolute form, as curl and pip send it to $http_proxy.
        { name: 'bash', input: { command: `NODE_USE_ENV_PROXY= node -e 'const u = new URL(process.env.http_proxy); require("http").get({ host: u.hostname, port: u.port, path: process.argv[1] }, (r) => r.pipe(process.stdout))' http://pkg.test:${port['127.0.0.2']}/plain` } },
        { name: 'bash', input: { command: probe(`http://x.mirror.test:${port['127.0.0.3']}/`) } },
        { name: 'bash', input: { command: probe(`http://unlisted.test:${port['127.0.0.2']}/`) } },
        { name: 'bash', input: { command: probe(`http://intranet.test:${port['127.0.0.4']}/`) } },
        { name: 'bash', input: { command: probe(`http://127.0.0.1:${port['127.0.0.1']}/`) } },
        { name: 'bash', input: { command: probe(`http://127.0.0.1:${port['127.0.0.1']}/`, 'NO_PROXY="*" no_proxy="*"') } },
        { name: 'bash', input: { command: 'env | grep -iE "proxy|sock|egress" | sort; find / -xdev -type s 2>/dev/null; ls /run/outpost-egress 2>&1; echo end' } },
        { name: 'bash', input: { command: 'sleep 2; echo slept' } },
        // A large download through the sidecar and the proxy: every byte, in order.
        { name: 'bash', input: { command: `node -e 'fetch(process.argv[1]).then((r) => r.arrayBuffer()).then((b) => console.log(b.byteLength, require("crypto").createHash("sha256").update(Buffer.from(b)).digest("hex")))' http://pkg.test:${port['127.0.0.2']}/big 2>/dev/null` } },
      ],
    });
    // While it runs: the session joins the sidecar's namespace; the sidecar has no network; the socket is the sidecar's alone.
    const [session, sidecar] = (await waitFor('the session and its sidecar', async () => {
      const all = await inspectAll(served.installId);
      const s = all.find((c) => c.Config.Labels['outpost.work_id'] === work.id && !c.Config.Labels['outpost.role']);
      const f = all.find((c) => c.Config.Labels['outpost.work_id'] === work.id && c.Config.Labels['outpost.role'] === 'egress');
      return s && f ? ([s, f] as [Docker.ContainerInspectInfo, Docker.ContainerInspectInfo]) : undefined;
    }, 60_000, 50))!;
    assert.equal(session.HostConfig.NetworkMode, `container:${sidecar.Id}`);
    assert.equal(sidecar.HostConfig.NetworkMode, 'none');
    assert.deepEqual(session.Mounts.map((m) => m.Destination), ['/workspace'], 'the proxy’s socket folder is not mounted into the session');
    assert.deepEqual(sidecar.HostConfig.CapDrop, ['ALL']);
    assert.equal(sidecar.HostConfig.ReadonlyRootfs, true);

    await ended(served.outpost, work.id);
    const results = playground.sessions.results(sessionId).map((r) => r.text.trim());
    assert.equal(results[0], 'reached hello from 127.0.0.2', 'a listed name (Node’s own fetch, through the proxy)');
    assert.equal(results[1], 'hello from 127.0.0.2', 'plain HTTP through http_proxy');
    assert.equal(results[2], 'reached hello from 127.0.0.3', '*.mirror.test');
    assert.match(results[3]!, /^failed/, 'an unlisted name');
    assert.match(results[4]!, /^failed/, 'a listed name that resolves to an unlisted internal address');
    assert.match(results[5]!, /^failed/, 'the host’s own loopback, through the proxy');
    assert.match(results[6]!, /^failed ECONNREFUSED/, 'the host’s own loopback, around the proxy: the session’s loopback is its own');
    const envLines = results[7]!.split('\n').filter((l) => l !== 'end' && !l.startsWith('ls: '));
    assert.ok(envLines.every((l) => /^(HTTPS?_PROXY|https?_proxy)=http:\/\/127\.0\.0\.1:3128$|^(NO_PROXY|no_proxy)=localhost,::1$|^NODE_USE_ENV_PROXY=1$/.test(l)), results[7]);
    assert.ok(results[7]!.includes('No such file or directory'), 'no socket folder in the session');
    assert.equal(results[9], `${BIG.length} ${BIG_SHA256}`, 'a 24 MiB download arrives whole');

    const log = readFileSync(sessionFiles(served.dataDir, work.environment_id, work.id).log, 'utf8');
    assert.match(log, new RegExp(`\\[egress\\] allowed CONNECT pkg\\.test:${port['127.0.0.2']} \\(allowlist: pkg\\.test:${port['127.0.0.2']}\\) 127\\.0\\.0\\.2 up \\d+ B down \\d+ B \\d+ ms`));
    assert.match(log, /\[egress\] allowed HTTP pkg\.test:\d+ \(allowlist: pkg\.test:\d+\)/);
    assert.match(log, /\[egress\] allowed CONNECT x\.mirror\.test:\d+ \(allowlist: \*\.mirror\.test:\d+\)/);
    assert.match(log, /\[egress\] refused CONNECT unlisted\.test:\d+ \(not on the allowlist: add unlisted\.test:\d+\)/);
    assert.match(log, /\[egress\] refused CONNECT intranet\.test:\d+ \(intranet\.test resolves to the internal address 127\.0\.0\.4/);
    assert.match(log, /\[egress\] allowed CONNECT 127\.0\.0\.1:\d+ \(api\)/, 'the session runner’s own calls, through the proxy');
    const refused = served.connections().filter((c) => !c.allowed).map((c) => c.host);
    assert.ok(refused.includes('unlisted.test') && refused.includes('intranet.test'), JSON.stringify(refused));
    assert.ok(served.connections().every((c) => c.workId === work.id));
    // Kept beside the log: each connection once, in its last state (an open one was reported again when it closed).
    const kept = await served.outpost.handle('egress.list', { environmentId: work.environment_id, workId: work.id });
    assert.ok('result' in kept);
    const list = kept.result as EgressConnection[];
    assert.equal(new Set(list.map((c) => c.id)).size, list.length);
    assert.ok(list.length >= 6 && list.every((c) => !c.open), JSON.stringify(list.filter((c) => c.open)));
    assert.ok(served.connections().some((c) => c.open && c.host === '127.0.0.1'), 'the runner’s stream was shown while open');

    await waitFor('no container left: the sidecar went with its session', async () => (await outpostContainers(served.installId)).length === 0);
    assert.ok(!existsSync(join(served.dataDir, 'egress')), 'no socket folder: the sidecar’s attach stream carries its connections');
    await served.outpost.stopWorker('now');
  });

  it('startup recovery sweeps the sidecar of an Outpost that died, and the socket folder an older Outpost left', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-egress-'));
    const installId = randomUUID();
    writeFileSync(join(dataDir, 'install-id'), installId);
    mkdirSync(join(dataDir, 'egress', 'aaaaaaaaaaaa'), { recursive: true });
    // An instance with no record: its process is gone.
    const labels = { 'outpost.work_id': 'work_dead', 'outpost.environment_id': 'env_dead', 'outpost.instance': randomUUID(), 'outpost.install': installId, 'outpost.egress_dir': 'aaaaaaaaaaaa' };
    const { container: sidecar, wire } = await startEgressSidecar(docker, { name: `outpost-test-dead-${installId.slice(0, 8)}-egress`, labels, user: sessionUser(false) });
    wire.destroy();
    try {
      const served = await serve({ egress: 'allowlist' }, dataDir);
      await waitFor('the dead one’s sidecar swept', async () => !(await outpostContainers(installId)).some((c) => c.Id === sidecar.id), 30_000);
      assert.deepEqual(readdirSync(join(dataDir, 'egress')), []);
      await served.outpost.stopWorker('now');
    } finally {
      await sidecar.remove({ force: true }).catch(() => {});
    }
  });

  it('api: the session runner serves its session through the proxy; any other host is refused and logged', async () => {
    const served = await serve({ egress: 'api' });
    const { sessionId, work } = playground.createSession(served.environmentId, {
      calls: [{ name: 'bash', input: { command: probe(`http://pkg.test:${port['127.0.0.2']}/`) } }, { name: 'bash', input: { command: 'echo served' } }],
    });
    const entry = await ended(served.outpost, work.id);
    assert.equal(entry.status, 'finished', entry.reason);
    const results = playground.sessions.results(sessionId).map((r) => r.text.trim());
    assert.match(results[0]!, /^failed/);
    assert.equal(results[1], 'served');
    const log = readFileSync(sessionFiles(served.dataDir, work.environment_id, work.id).log, 'utf8');
    assert.match(log, /\[egress\] refused CONNECT pkg\.test:\d+ \(egress api: only the API host\)/);
    assert.match(log, /\[egress\] allowed CONNECT 127\.0\.0\.1:\d+ \(api\) 127\.0\.0\.1 up \d+/);
    await served.outpost.stopWorker('now');
  });

  it('Bridge scripts get the same policies: allowlist through the proxy (what is listed, and only that), none with no way out', async () => {
    const bridge = new BridgePlayground({ pollIntervalMs: 200, heartbeatMs: 5_000 });
    await bridge.start();
    try {
      const run = async (egress: string, script: string) => {
        const { environment_id: id } = bridge.createEnvironment('byoc');
        const dataDir = mkdtempSync(join(tmpdir(), 'outpost-egress-'));
        const secrets = memorySecrets();
        const outpost = Outpost.open({ dataDir, secrets, logger: createLogger({ format: 'text', sink: { write: () => {} } }), egressResolver: resolver });
        opened.push(outpost);
        const profile = environmentProfileSchema.parse({ environmentId: id, provider: 'ainative', baseUrl: bridge.url, image: 'outpost-test-base', interpreter: ['sh'], egress, allowHosts: [`pkg.test:${port['127.0.0.2']}`, '127.0.0.2'], graceSeconds: 1 });
        await secrets.set({ kind: 'environment-key', environmentId: id }, bridge.token, originOf(bridge.url));
        await outpost.serve(profile);
        const work = bridge.enqueue(id, 'code_execution', { script });
        await waitFor('the script to be acked', () => bridge.work.get(work.work_id)!.state === 'acknowledged', 60_000);
        await outpost.stopWorker('now');
        const result = bridge.work.get(work.work_id)!.result!;
        return String(result['stdout']) + String(result['stderr']);
      };
      // busybox nc speaks to the proxy by hand: a CONNECT, then a request on the tunnel.
      // Its stdin stays open a moment: busybox nc stops reading the answer when its input ends.
      const through = (target: string) => `(printf 'CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET / HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n'; sleep 2) | nc -w 5 127.0.0.1 3128; echo`;
      const allowed = await run('allowlist', `${through(`pkg.test:${port['127.0.0.2']}`)}; ${through(`other.test:${port['127.0.0.2']}`)}; echo "proxy=$HTTPS_PROXY"`);
      assert.match(allowed, /HTTP\/1.1 200 Connection Established[\s\S]*hello from 127\.0\.0\.2/);
      assert.match(allowed, /HTTP\/1.1 403 Forbidden[\s\S]*Outpost refused other\.test:\d+: not on the allowlist/);
      assert.match(allowed, /proxy=http:\/\/127\.0\.0\.1:3128/);
      const none = await run('none', `echo | nc -w 3 127.0.0.1 3128 && echo reached || echo unreachable; echo | nc -w 3 127.0.0.2 ${port['127.0.0.2']} && echo reached || echo unreachable`);
      assert.match(none, /^unreachable\nunreachable\n/);
    } finally {
      await bridge.close();
    }
  });

  it('none: loopback only and no proxy: neither a script nor the session runner reaches anything', async () => {
    const image = await buildScriptImage('outpost-test-egress-none', `echo | nc -w 3 127.0.0.2 ${port['127.0.0.2']} && echo reached || echo unreachable; env | grep -ci proxy`);
    const served = await serve({ egress: 'none', image });
    const item = playground.enqueue(served.environmentId);
    const info = (await waitFor('the container', async () => (await inspectAll(served.installId)).find((c) => c.Config.Labels['outpost.work_id'] === item.id), 30_000, 50))!;
    assert.equal(info.HostConfig.NetworkMode, 'none');
    await ended(served.outpost, item.id);
    const log = readFileSync(sessionFiles(served.dataDir, item.environment_id, item.id).log, 'utf8');
    assert.match(log, /^unreachable$/m);
    assert.match(log, /^0$/m, 'no proxy variables');

    const runner = await serve({ egress: 'none' });
    const { work } = playground.createSession(runner.environmentId, { calls: [{ name: 'bash', input: { command: 'echo never' } }] });
    const entry = await ended(runner.outpost, work.id);
    assert.equal(entry.status, 'failed', 'the session runner cannot reach the API: none is for scripts');
    assert.deepEqual(runner.connections(), []);
    await served.outpost.stopWorker('now');
    await runner.outpost.stopWorker('now');
  });
});
