/**
 * The chaos soak: the real headless worker, the real Docker engine and Outpost's session
 * image against the playground, with faults injected on a seeded schedule. The ledger is
 * taken from the playground's and Docker's own records, not the worker's word, and the
 * run fails on any item lost, served twice, left orphaned, or any secret leaked.
 *
 *   npm run soak -- --sessions 200 [--seed 1] [--fault-rate 0.1] [--kills 1] [--docker-restarts 0] [--minutes 10]
 *                  [--hostile [--sigterms 2]]
 *   npm run soak -- --workers 3 --sessions 300   (the fleet soak: bench/fleet-soak.ts)
 *
 * --docker-restarts restarts only the dockerd that scripts/test.sh started, by the pid it recorded
 * (scripts/lib/system.sh start_dockerd); without that record it refuses to run.
 * --hostile adds a hostile control plane (bench/soak-hostile.ts) and a Bridge worker beside the Anthropic one,
 * and sends each worker --sigterms SIGTERMs at the worst moment; each must exit within drain + grace + 5 s.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { armForSigterm, BridgeSoak, STORM_RETRY_AFTER_SECONDS, hostileAnthropicFault, hostileLine, judgeHostileAnthropic, queueHostileAnthropic, type HostileItem } from './soak-hostile.js';
import { applyFault, ContainerWatch, HANG_ROUTES, kinds, mulberry32, ORDINARY_FAULTS, SoakWorker } from './soak-parts.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    'fault-rate': { type: 'string', default: '0.1' },
    kills: { type: 'string', default: '1' },
    'docker-restarts': { type: 'string', default: '0' },
    minutes: { type: 'string', default: '10' },
    hostile: { type: 'boolean', default: false },
    sigterms: { type: 'string' },
    // More than one: bench/fleet-soak.ts, a fleet of outpost-worker containers.
    workers: { type: 'string', default: '1' },
    'max-sessions': { type: 'string' },
    baseline: { type: 'string' },
  },
});
if (Number(values.workers) > 1) process.exit(await (await import('./fleet-soak.js')).fleetSoak(values));
const total = Number(values.sessions);
const faultRate = Number(values['fault-rate']);
const kills = Number(values.kills);
const dockerRestarts = Number(values['docker-restarts']);
const hostile = values.hostile;
const sigterms = Number(values.sigterms ?? (hostile ? 2 : 0));
const startedAt = Date.now();
const deadline = startedAt + Number(values.minutes) * 60_000;
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
// Every worker is sent SIGTERM with this much drain and grace; it must be gone 5 s after both.
const DRAIN_SECONDS = 5;
const GRACE_SECONDS = 2;
const sigtermBoundMs = (DRAIN_SECONDS + GRACE_SECONDS + 5) * 1000;
const workerArgs = ['--max-sessions', '2', '--network', 'host', '--grace-seconds', String(GRACE_SECONDS), '--drain-seconds', String(DRAIN_SECONDS), '--log-format', 'json'];
// A Retry-After of an hour is capped at 60 s; at that cap a storm would stall the run for minutes, so the soak shortens
// the cap as the tests do. That an hour is never honoured is what the soak proves; the 60 s figure is a unit test's.
const RETRY_AFTER_CAP_SECONDS = '5';

const playground = new AnthropicPlayground({ leaseTtlSeconds: 6 });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('soak');
const hostileCount = Math.max(1, Math.round(total / 50));
let hostileItems: HostileItem[] = [];
const sessions = Array.from({ length: total }, (_, i) => {
  // Hostile work in the middle of the queue, among ordinary sessions.
  if (hostile && i === Math.floor(total / 2)) hostileItems = queueHostileAnthropic(playground, environment.id, hostileCount);
  const r = random();
  const kind = r < 0.7 ? 'ordinary' : r < 0.8 ? 'cpu' : r < 0.9 ? 'flood' : 'slow';
  return { kind, ...playground.createSession(environment.id, { calls: kinds[kind]! }) };
});
const workIds = new Set(sessions.map((s) => s.work.id));

// ---- Docker's own record: every container's life, and what its environment held ----
const secretsFor = (workId: string) => [environmentKey, playground.apiKey, ...[...playground.work.values()].filter((r) => r.item.id !== workId).map((r) => r.sessionsToken)];
const containers = new ContainerWatch(docker, environment.id, secretsFor);
await containers.start();

// ---- the workers, as a user runs them ----
const dataDir = mkdtempSync(join(tmpdir(), 'outpost-soak-'));
const worker = new SoakWorker(['--base-url', url, '--environment-id', environment.id, '--data-dir', dataDir, ...workerArgs], {
  OUTPOST_ENVIRONMENT_KEY: environmentKey,
  ANTHROPIC_API_KEY: playground.apiKey,
  ...(hostile ? { OUTPOST_RETRY_AFTER_CAP_SECONDS: RETRY_AFTER_CAP_SECONDS } : {}),
});
const bridge = hostile ? new BridgeSoak(docker, random) : undefined;
await bridge?.start(Math.max(4, Math.round(total / 4)), hostileCount, workerArgs);

// ---- faults, on a seeded schedule ----
const counts: Record<string, number> = {};
const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
const activeItems = () => [...playground.work.values()].filter((r) => workIds.has(r.item.id) && (r.item.state === 'active' || r.item.state === 'starting'));
const faults = setInterval(() => {
  if (random() >= faultRate) return;
  // Each fault is a short outage: it lapses after a few seconds whether or not a request met it.
  const ttlMs = 3_000;
  if (bridge && random() < 0.3) return void count(bridge.fault(ttlMs));
  const fault = pick(hostile ? ([...ORDINARY_FAULTS, 'hostile', 'hostile', 'hostile'] as const) : ORDINARY_FAULTS);
  if (fault === 'hostile') return void count(hostileAnthropicFault(playground, random, HANG_ROUTES, ttlMs));
  if (applyFault(playground, fault, { random, ttlMs, activeItems })) count(fault);
}, 250);

// ---- worker health over time ----
const samples: Array<{ t: number; rssMb: number; fds: number }> = [];
const sampler = setInterval(() => {
  const sample = worker.sample();
  if (sample) samples.push({ t: Date.now(), ...sample });
}, 2_000);

// ---- disruptions at fixed points of progress: kill -9 and restart; a Docker engine restart; SIGTERM and restart ----
const done = () => sessions.filter((s) => playground.record(s.work.id).item.state === 'stopped').length;
const settled = () => done() === total && hostileItems.every((h) => !h.stoppable || playground.record(h.id).item.state === 'stopped') && (bridge?.allSettled() ?? true);
const disruptions = [
  ...Array.from({ length: kills }, (_, i) => ({ at: (i + 1) / (kills + 1), what: 'kill' as const })),
  ...Array.from({ length: dockerRestarts }, (_, i) => ({ at: (i + 0.5) / (dockerRestarts + 0.5), what: 'docker' as const })),
  ...Array.from({ length: sigterms }, (_, i) => ({ at: (i + 0.75) / (sigterms + 0.75), what: 'sigterm' as const })),
].sort((a, b) => a.at - b.at);

while (!settled() && Date.now() < deadline) {
  const next = disruptions[0];
  if (next && done() >= next.at * total) {
    disruptions.shift();
    if (next.what === 'kill') {
      log(`kill -9 the worker at ${done()}/${total}`);
      await worker.kill9();
      worker.start();
    } else if (next.what === 'sigterm') {
      log(`SIGTERM to the workers at ${done()}/${total}, with a slow-loris poll, a hung ack and a storm armed`);
      await Promise.all([armForSigterm(playground), bridge?.armForSigterm()]);
      const [ms, bridgeMs] = await Promise.all([worker.terminate(), bridge?.worker.terminate()]);
      log(`the workers exited ${(ms / 1000).toFixed(1)} s${bridgeMs === undefined ? '' : ` and ${(bridgeMs / 1000).toFixed(1)} s`} after SIGTERM`);
      worker.start();
      bridge?.worker.start();
    } else {
      log(`restarting the Docker engine at ${done()}/${total}`);
      containers.stop();
      bridge?.containers.stop();
      await restartDocker();
      await containers.start();
      await bridge?.containers.start();
    }
    count({ kill: 'kill -9', sigterm: 'SIGTERM', docker: 'docker restart' }[next.what]);
  }
  await new Promise((r) => setTimeout(r, 200));
}
clearInterval(faults);
playground.clearFaults();
bridge?.playground.clearFaults();
await Promise.all([worker.terminate(), bridge?.worker.terminate()]);
clearInterval(sampler);
await new Promise((r) => setTimeout(r, 1_000));
containers.stop();

// ---- the ledger ----
const finished = done();
const lost = sessions.filter((s) => playground.record(s.work.id).item.state !== 'stopped').map((s) => s.work.id);
const completed = sessions.filter((s) => playground.sessions.results(s.sessionId).length === kinds[s.kind]!.length).length;
const doubled = containers.doubled();
const orphans = await containers.orphans();
const leftClaims = existsSync(join(dataDir, 'leases')) ? readdirSync(join(dataDir, 'leases')) : [];
const allSecrets = [environmentKey, playground.apiKey, ...[...playground.work.values()].map((r) => r.sessionsToken)];
// Every key and token starts with sk-ant-: one pass per file finds any of them (floods make the logs far too big to join).
const logFiles = readdirSync(join(dataDir, 'logs', 'sessions')).map((f) => join(dataDir, 'logs', 'sessions', f));
const logLeaks =
  allSecrets.filter((secret) => worker.output.includes(secret)).length +
  logFiles.filter((f) => readFileSync(f).includes('sk-ant-')).length;
const leaks = logLeaks + containers.envLeaks.length;
const first = samples[Math.min(2, samples.length - 1)];
const last = samples.at(-1);
const peak = samples.reduce((m, s) => ({ rssMb: Math.max(m.rssMb, s.rssMb), fds: Math.max(m.fds, s.fds) }), { rssMb: 0, fds: 0 });
const hostileProblems = judgeHostileAnthropic(hostileItems, playground, containers, worker.output);
const allSigterms = [...worker.sigterms, ...(bridge?.worker.sigterms ?? [])];
const lateSigterms = allSigterms.filter((ms) => ms > sigtermBoundMs);
const bridgeLedger = (await bridge?.ledger()) ?? { lines: [], failures: 0 };
// Retry-After storms met: the workers log each retry with what was asked and the cap applied.
const cappedRetries = (worker.output.match(/"capped":/g) ?? []).length;
function hostileLedger(): string {
  if (!hostile) return '';
  return [
    '',
    hostileLine(hostileItems, hostileProblems),
    `  Retry-After capped           ${cappedRetries} waits asked for ${STORM_RETRY_AFTER_SECONDS} s, each cut to ${RETRY_AFTER_CAP_SECONDS} s`,
    `  SIGTERM answered             ${allSigterms.length} signals, slowest ${(Math.max(...allSigterms) / 1000).toFixed(1)} s (bound: drain ${DRAIN_SECONDS} + grace ${GRACE_SECONDS} + 5 = ${sigtermBoundMs / 1000} s)${lateSigterms.length ? `; ${lateSigterms.length} LATE` : ''}`,
    ...bridgeLedger.lines,
  ].join('\n');
}

console.log(`
Soak ledger (seed ${values.seed}, fault rate ${faultRate}; from the playground's and Docker's records)
  items queued                 ${total}
  items finished (stopped)     ${finished}   (${completed} ran every tool call; the rest were stopped, stolen or killed on purpose)
  lost                         ${lost.length}${lost.slice(0, 5).map((id) => `\n    ${id} ${playground.record(id).history.join(' → ')}, delivered ${playground.record(id).deliveries.length}×`).join('')}
  served twice (containers)    ${doubled.length}${doubled.length ? `   ${doubled.slice(0, 5).join(' ')}` : ''}
  orphan containers            ${orphans.length}   claim records left: ${leftClaims.length}
  secrets leaked               ${leaks}   (logs and stdout: ${logLeaks}; container environments: ${containers.envLeaks.length})
  deliveries                   ${[...playground.work.values()].filter((r) => workIds.has(r.item.id)).reduce((n, r) => n + r.deliveries.length, 0)} for ${total} items
  containers started           ${containers.lives.size}   (${containers.warmHandovers} warm ones handed an item)
  faults injected              ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}
  worker RSS                   ${first?.rssMb.toFixed(0)} MiB early → ${last?.rssMb.toFixed(0)} MiB at the end (peak ${peak.rssMb.toFixed(0)})
  worker open descriptors      ${first?.fds} early → ${last?.fds} at the end (peak ${peak.fds})${hostileLedger()}
  took                         ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
writeFileSync(join(dataDir, 'worker-output.log'), worker.output);
log(`the worker's output: ${join(dataDir, 'worker-output.log')}`);
if (bridge) {
  writeFileSync(join(bridge.dataDir, 'worker-output.log'), bridge.worker.output);
  log(`the Bridge worker's output: ${join(bridge.dataDir, 'worker-output.log')}`);
}
await playground.close();
await bridge?.close();
const failed = lost.length + doubled.length + orphans.length + leftClaims.length + leaks + hostileProblems.length + lateSigterms.length + bridgeLedger.failures;
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
