/**
 * The chaos soak: the real headless worker, the real Docker engine and Outpost's session
 * image against the playground, with faults injected on a seeded schedule. The ledger is
 * taken from the playground's and Docker's own records, not the worker's word, and the
 * run fails on any item lost, served twice, left orphaned, or any secret leaked.
 *
 *   npm run soak -- --sessions 200 [--seed 1] [--fault-rate 0.1] [--kills 1] [--docker-restarts 0] [--minutes 10]
 *
 * --docker-restarts restarts only the dockerd that scripts/test.sh started, by the pid it recorded
 * (scripts/lib/system.sh start_dockerd); without that record it refuses to run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground, type RouteName } from '../playground/anthropic.js';
import type { ToolCall } from '../playground/sessions.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    'fault-rate': { type: 'string', default: '0.1' },
    kills: { type: 'string', default: '1' },
    'docker-restarts': { type: 'string', default: '0' },
    minutes: { type: 'string', default: '10' },
  },
});
const total = Number(values.sessions);
const faultRate = Number(values['fault-rate']);
const kills = Number(values.kills);
const dockerRestarts = Number(values['docker-restarts']);
const deadline = Date.now() + Number(values.minutes) * 60_000;
const root = fileURLToPath(new URL('..', import.meta.url));
// The engine scripts/test.sh started: on a laptop the engine that answers may be the user's own, never ours to restart.
const dockerdPidFile = process.env['OUTPOST_DOCKERD_PIDFILE'] || '/run/outpost-dockerd.pid';
if (dockerRestarts > 0) {
  const engine = recordedDockerd();
  if (typeof engine === 'string') {
    process.stderr.write(
      `outpost soak: --docker-restarts restarts only a Docker engine that scripts/test.sh started (${engine}); run the soak after scripts/test.sh started the engine, or leave --docker-restarts 0\n`,
    );
    process.exit(64);
  }
}
const random = mulberry32(Number(values.seed));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const docker = new Docker();
const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---- the sessions: ordinary ones, and some that saturate a core or flood stdout ----
const kinds: Record<string, ToolCall[]> = {
  ordinary: [
    { name: 'bash', input: { command: 'echo "$((6 * 7))"' } },
    { name: 'write', input: { file_path: '/workspace/a.txt', content: 'soak\n' } },
    { name: 'read', input: { file_path: '/workspace/a.txt' } },
  ],
  cpu: [{ name: 'bash', input: { command: "timeout 2 bash -c 'while :; do :; done'; echo burned" } }],
  // Into the runner's own stdout: the container's log, as fast as it can.
  flood: [{ name: 'bash', input: { command: 'yes outpost-soak-flood | head -c 20000000 > /proc/$PPID/fd/1; echo flooded' } }],
  slow: [{ name: 'bash', input: { command: 'sleep 2; echo slept' } }],
};
const playground = new AnthropicPlayground({ leaseTtlSeconds: 6 });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('soak');
const sessions = Array.from({ length: total }, () => {
  const r = random();
  const kind = r < 0.7 ? 'ordinary' : r < 0.8 ? 'cpu' : r < 0.9 ? 'flood' : 'slow';
  return { kind, ...playground.createSession(environment.id, { calls: kinds[kind]! }) };
});
const workIds = new Set(sessions.map((s) => s.work.id));

// ---- Docker's own record: every container's life, and what its environment held ----
const lives = new Map<string, { workId: string; start: number; die?: number }>();
const envLeaks: string[] = [];
const secretsFor = (workId: string) => [environmentKey, playground.apiKey, ...[...playground.work.values()].filter((r) => r.item.id !== workId).map((r) => r.sessionsToken)];
/** The item a container serves: its label, or for a warm container (started before its item) the name it was given at the handover. */
const itemOfName = (name: string | undefined) => /^\/?outpost-(.+)-[0-9a-f]{6}$/.exec(name ?? '')?.[1] ?? '';
let warmHandovers = 0;
async function watchDocker(): Promise<() => void> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['start', 'die', 'rename'], label: [`outpost.environment_id=${environment.id}`] } })) as NodeJS.ReadableStream & { destroy(): void };
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { id: string; status: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
      const workId = e.Actor.Attributes['outpost.work_id'] ?? '';
      const at = e.timeNano / 1e6;
      if (e.status === 'rename') {
        // A warm container's life as the item's starts here: before, it served nothing and held no credential.
        const life = lives.get(e.id);
        if (life && !life.workId) (life.workId = itemOfName(e.Actor.Attributes['name'])), (life.start = at), warmHandovers++;
      } else if (e.status === 'start') {
        lives.set(e.id, { workId, start: at });
        void docker.getContainer(e.id).inspect().then(
          (info) => {
            const env = info.Config.Env.join('\n');
            for (const secret of secretsFor(workId)) if (env.includes(secret)) envLeaks.push(`container ${e.id.slice(0, 12)} (${workId || 'warm'}) holds a secret that is not its own`);
          },
          () => {},
        );
      } else {
        const life = lives.get(e.id);
        if (life) life.die = at;
      }
    }
  });
  return () => stream.destroy();
}
let stopWatching = await watchDocker();

// ---- the worker, as a user runs it ----
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-soak-'));
let stdout = '';
let worker!: ChildProcess;
function startWorker(): void {
  worker = spawn(
    process.execPath,
    [join(root, 'dist/electron/core/cli.js'), 'worker', '--base-url', url, '--environment-id', environment.id, '--max-sessions', '2', '--network', 'host',
      '--grace-seconds', '2', '--drain-seconds', '5', '--data-dir', dataDir, '--log-format', 'json'],
    { env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: environmentKey, ANTHROPIC_API_KEY: playground.apiKey }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  worker.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (stdout += d.toString()));
}
startWorker();

// ---- faults, on a seeded schedule ----
const counts: Record<string, number> = {};
const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
const activeItems = () => [...playground.work.values()].filter((r) => workIds.has(r.item.id) && (r.item.state === 'active' || r.item.state === 'starting'));
// Hangs only on the work endpoints: a session's own stream is the runner's to reconnect, not the lease's.
const hangRoutes: RouteName[] = ['work.poll', 'work.ack', 'work.heartbeat', 'work.stop'];
const errorRoutes: RouteName[] = [...hangRoutes, 'sessions.retrieve', 'sessions.events.list', 'sessions.events.send'];
const faults = setInterval(() => {
  if (random() >= faultRate) return;
  const fault = pick(['burst', 'burst', 'hang', 'malformed', 'steal', 'stop'] as const);
  // Each fault is a short outage: it lapses after a few seconds whether or not a request met it.
  const ttlMs = 3_000;
  if (fault === 'burst') playground.addFault({ route: pick(errorRoutes), status: pick([429, 500, 503]), count: 1 + Math.floor(random() * 3), ttlMs });
  else if (fault === 'hang') playground.addFault({ route: pick(hangRoutes), hang: true, count: 1, ttlMs });
  else if (fault === 'malformed') playground.addFault({ route: 'work.poll', malformed: pick(['json', 'shape'] as const), count: 1, ttlMs });
  else {
    const target = activeItems();
    if (target.length === 0) return;
    const item = pick(target).item.id;
    if (fault === 'steal') playground.stealLease(item);
    else playground.requestStop(item);
  }
  count(fault);
}, 250);

// ---- worker health over time ----
const samples: Array<{ t: number; rssMb: number; fds: number }> = [];
const sampler = setInterval(() => {
  const pid = worker.pid;
  if (!pid || worker.exitCode !== null) return;
  try {
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    samples.push({ t: Date.now(), rssMb: rss, fds: readdirSync(`/proc/${pid}/fd`).length });
  } catch {
    // the worker was just killed
  }
}, 2_000);

// ---- disruptions at fixed points of progress: kill -9 and restart; a Docker engine restart ----
const done = () => sessions.filter((s) => playground.record(s.work.id).item.state === 'stopped').length;
const disruptions = [
  ...Array.from({ length: kills }, (_, i) => ({ at: (i + 1) / (kills + 1), what: 'kill' as const })),
  ...Array.from({ length: dockerRestarts }, (_, i) => ({ at: (i + 0.5) / (dockerRestarts + 0.5), what: 'docker' as const })),
].sort((a, b) => a.at - b.at);

while (done() < total && Date.now() < deadline) {
  const next = disruptions[0];
  if (next && done() >= next.at * total) {
    disruptions.shift();
    if (next.what === 'kill') {
      log(`kill -9 the worker at ${done()}/${total}`);
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      startWorker();
    } else {
      log(`restarting the Docker engine at ${done()}/${total}`);
      stopWatching();
      await restartDocker();
      stopWatching = await watchDocker();
    }
    count(next.what === 'kill' ? 'kill -9' : 'docker restart');
  }
  await new Promise((r) => setTimeout(r, 200));
}
clearInterval(faults);
playground.clearFaults();
worker.kill('SIGTERM');
await new Promise((r) => (worker.exitCode !== null ? r(null) : worker.once('exit', r)));
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 1_000));
stopWatching();

// ---- the ledger ----
const finished = done();
const lost = sessions.filter((s) => playground.record(s.work.id).item.state !== 'stopped').map((s) => s.work.id);
const completed = sessions.filter((s) => playground.sessions.results(s.sessionId).length === kinds[s.kind]!.length).length;
const byItem = new Map<string, Array<{ start: number; die: number }>>();
// A warm container never handed an item served nothing.
for (const life of [...lives.values()].filter((l) => l.workId)) byItem.set(life.workId, [...(byItem.get(life.workId) ?? []), { start: life.start, die: life.die ?? Infinity }]);
const doubled = [...byItem].filter(([, ls]) => ls.some((a, i) => ls.some((b, j) => i < j && a.start < b.die && b.start < a.die))).map(([id]) => id);
const orphans = (await docker.listContainers({ all: true, filters: { label: [`outpost.environment_id=${environment.id}`] } })).map((c) => c.Id.slice(0, 12));
const leftClaims = existsSync(join(dataDir, 'leases')) ? readdirSync(join(dataDir, 'leases')) : [];
const allSecrets = [environmentKey, playground.apiKey, ...[...playground.work.values()].map((r) => r.sessionsToken)];
// Every key and token starts with sk-ant-: one pass per file finds any of them (floods make the logs far too big to join).
const logFiles = readdirSync(join(dataDir, 'logs', 'sessions')).map((f) => join(dataDir, 'logs', 'sessions', f));
const logLeaks =
  allSecrets.filter((secret) => stdout.includes(secret)).length +
  logFiles.filter((f) => readFileSync(f).includes('sk-ant-')).length;
const leaks = logLeaks + envLeaks.length;
const first = samples[Math.min(2, samples.length - 1)];
const last = samples.at(-1);
const peak = samples.reduce((m, s) => ({ rssMb: Math.max(m.rssMb, s.rssMb), fds: Math.max(m.fds, s.fds) }), { rssMb: 0, fds: 0 });

console.log(`
Soak ledger (seed ${values.seed}, fault rate ${faultRate}; from the playground's and Docker's records)
  items queued                 ${total}
  items finished (stopped)     ${finished}   (${completed} ran every tool call; the rest were stopped, stolen or killed on purpose)
  lost                         ${lost.length}${lost.slice(0, 5).map((id) => `\n    ${id} ${playground.record(id).history.join(' → ')}, delivered ${playground.record(id).deliveries.length}×`).join('')}
  served twice (containers)    ${doubled.length}${doubled.length ? `   ${doubled.slice(0, 5).join(' ')}` : ''}
  orphan containers            ${orphans.length}   claim records left: ${leftClaims.length}
  secrets leaked               ${leaks}   (logs and stdout: ${logLeaks}; container environments: ${envLeaks.length})
  deliveries                   ${[...playground.work.values()].filter((r) => workIds.has(r.item.id)).reduce((n, r) => n + r.deliveries.length, 0)} for ${total} items
  containers started           ${lives.size}   (${warmHandovers} warm ones handed an item)
  faults injected              ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}
  worker RSS                   ${first?.rssMb.toFixed(0)} MiB early → ${last?.rssMb.toFixed(0)} MiB at the end (peak ${peak.rssMb.toFixed(0)})
  worker open descriptors      ${first?.fds} early → ${last?.fds} at the end (peak ${peak.fds})
  took                         ${((Date.now() - (deadline - Number(values.minutes) * 60_000)) / 1000).toFixed(0)} s`);
writeFileSync(join(dataDir, 'worker-output.log'), stdout);
log(`the worker's output: ${join(dataDir, 'worker-output.log')}`);
await playground.close();
const failed = lost.length + doubled.length + orphans.length + leftClaims.length + leaks;
if (failed > 0) log('FAILED: something was lost, doubled, orphaned or leaked');
process.exit(failed > 0 ? 1 : 0);

/** The pid of the dockerd scripts/test.sh started, or why there is none. */
function recordedDockerd(): number | string {
  let pid: number;
  try {
    pid = Number(readFileSync(dockerdPidFile, 'utf8').trim());
  } catch {
    return 'none recorded';
  }
  if (!Number.isInteger(pid) || pid <= 1) return `${dockerdPidFile} holds no pid`;
  // A pid outlives its process in the record: restart it only while it is still a dockerd.
  let comm = '';
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    // gone: comm stays empty
  }
  return comm === 'dockerd' ? pid : `the recorded pid ${pid} is not a dockerd`;
}

/** Stop the recorded engine by its pid and start it again as scripts/test.sh does, recording the new pid. */
async function restartDocker(): Promise<void> {
  const pid = recordedDockerd();
  if (typeof pid === 'string') throw new Error(`cannot restart the Docker engine: ${pid}`);
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
  execFileSync('bash', ['-c', '. scripts/lib/system.sh && start_dockerd'], { cwd: root, env: { ...process.env, OUTPOST_DOCKERD_PIDFILE: dockerdPidFile } });
  for (let i = 0; i < 100; i++) {
    if (await docker.ping().then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the Docker engine did not come back');
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
