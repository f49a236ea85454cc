/**
 * The fleet soak: N workers as outpost-worker containers (host networking, so they reach the playground
 * on 127.0.0.1; the engine's socket mounted) serve one playground environment with the usual seeded
 * faults, while one worker is killed with SIGKILL and started again and another is `docker restart`ed.
 * First, for comparison, one worker alone serves a share of the same mix. The ledger comes from the
 * playground's and Docker's records: nothing lost, nothing served twice, no orphan container or claim,
 * no secret leaked, every worker a fair share (≥ 20 %), and sessions per minute beside one worker's.
 *
 *   npm run soak -- --workers 3 --sessions 300 [--baseline N] [--max-sessions 2] [--seed 1] [--fault-rate 0.1] [--minutes 30]
 *
 * Needs the worker image (outpost image build --worker --offline) and the session image on this engine.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { WORKER_IMAGE } from '../electron/core/runtime/worker-image.js';
import { containerLogs, runWorkerContainer, type WorkerContainer } from '../test/helpers/worker-container.js';
import { applyFault, ContainerWatch, kinds, mulberry32, ORDINARY_FAULTS } from './soak-parts.js';

const run = promisify(execFile);
const docker = new Docker();
const log = (line: string) => process.stderr.write(`[fleet soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
/** A worker's fair share, at least: with N workers, each must serve this much of the items. */
const FAIR_SHARE = 0.2;

interface PhaseResult {
  name: string;
  workers: number;
  total: number;
  finished: number;
  lost: string[];
  completed: number;
  doubled: string[];
  orphans: number;
  claimsLeft: number;
  leaks: { logs: number; env: number; workerConfig: number };
  shares: number[];
  deliveries: number;
  containers: number;
  faults: Record<string, number>;
  seconds: number;
  perMinute: number;
  memoryPeakMb: number[];
}

export async function fleetSoak(values: Record<string, string | boolean | undefined>): Promise<number> {
  const workers = Number(values['workers']);
  const total = Number(values['sessions'] ?? 300);
  const seed = Number(values['seed'] ?? 1);
  const faultRate = Number(values['fault-rate'] ?? 0.1);
  const maxSessions = Number(values['max-sessions'] ?? 2);
  const baseline = values['baseline'] === undefined ? Math.round(total / workers) : Number(values['baseline']);
  const minutes = Number(values['minutes'] ?? 30);
  if (Number(values['docker-restarts'] ?? 0) > 0) {
    process.stderr.write('outpost soak: --docker-restarts is not for the fleet soak (its workers are containers of that engine)\n');
    return 64;
  }
  for (const image of [`${WORKER_IMAGE}:latest`, 'outpost-session:latest']) {
    if (!(await docker.getImage(image).inspect().then(() => true, () => false))) {
      process.stderr.write(`outpost soak: the fleet soak needs ${image} on this engine (outpost image build${image.startsWith(WORKER_IMAGE) ? ' --worker' : ''} --offline)\n`);
      return 64;
    }
  }
  const playground = new AnthropicPlayground({ leaseTtlSeconds: 6 });
  const url = await playground.start();
  const phase = (name: string, count: number, sessions: number, phaseSeed: number, disrupt: boolean) =>
    runPhase({ name, playground, url, workers: count, total: sessions, random: mulberry32(phaseSeed), faultRate, maxSessions, disrupt, deadline: Date.now() + minutes * 60_000 });
  const results: PhaseResult[] = [];
  try {
    if (baseline > 0) results.push(await phase('one worker', 1, baseline, seed + 1, false));
    results.push(await phase(`${workers} workers`, workers, total, seed, true));
  } finally {
    await playground.close();
  }
  for (const r of results) printLedger(r, seed, faultRate);
  const [alone, fleet] = results.length === 2 ? results : [undefined, results[0]!];
  if (alone) {
    console.log(`  throughput                   ${fleet!.perMinute.toFixed(1)} sessions/min with ${workers} workers, ${alone.perMinute.toFixed(1)} with one (×${(fleet!.perMinute / alone.perMinute).toFixed(2)}; ${workers} × ${maxSessions} sessions at once on ${(await docker.info()).NCPU} cores)`);
  }
  const failures = results.reduce((n, r) => n + failuresOf(r).length, 0);
  for (const r of results) for (const f of failuresOf(r)) log(`FAILED (${r.name}): ${f}`);
  return failures > 0 ? 1 : 0;
}

function failuresOf(r: PhaseResult): string[] {
  const failures: string[] = [];
  if (r.lost.length) failures.push(`${r.lost.length} items lost`);
  if (r.doubled.length) failures.push(`${r.doubled.length} items served twice`);
  if (r.orphans || r.claimsLeft) failures.push(`${r.orphans} orphan containers, ${r.claimsLeft} claims left`);
  const leaks = r.leaks.logs + r.leaks.env + r.leaks.workerConfig;
  if (leaks) failures.push(`${leaks} secrets leaked`);
  if (r.workers > 1 && r.shares.some((s) => s < FAIR_SHARE)) failures.push(`a worker served less than ${FAIR_SHARE * 100} % (${r.shares.map(pct).join(', ')})`);
  return failures;
}

async function runPhase(opts: {
  name: string;
  playground: AnthropicPlayground;
  url: string;
  workers: number;
  total: number;
  random: () => number;
  faultRate: number;
  maxSessions: number;
  disrupt: boolean;
  deadline: number;
}): Promise<PhaseResult> {
  const { playground, url, total, random } = opts;
  const { environment, environmentKey } = playground.createEnvironment(`fleet-${opts.workers}`);
  // The chaos soak's mix: 70 % ordinary, 10 % each CPU burner, stdout flood and slow.
  const sessions = Array.from({ length: total }, () => {
    const r = random();
    const kind = r < 0.7 ? 'ordinary' : r < 0.8 ? 'cpu' : r < 0.9 ? 'flood' : 'slow';
    return { kind, ...playground.createSession(environment.id, { calls: kinds[kind]! }) };
  });
  const workIds = new Set(sessions.map((s) => s.work.id));
  const secretsFor = (workId: string) => [environmentKey, playground.apiKey, ...[...playground.work.values()].filter((r) => r.item.id !== workId).map((r) => r.sessionsToken)];
  const watch = new ContainerWatch(docker, environment.id, secretsFor);
  await watch.start();
  const started = Date.now();
  const fleet: WorkerContainer[] = [];
  for (let i = 0; i < opts.workers; i++) {
    fleet.push(await runWorkerContainer({
      name: `outpost-fleet-soak-${environment.id.slice(-8)}-${i}`,
      baseUrl: url,
      environmentId: environment.id,
      environmentKey,
      args: ['--max-sessions', String(opts.maxSessions), '--grace-seconds', '2', '--drain-seconds', '5', '--log-format', 'json'],
    }));
  }
  log(`${opts.name}: ${opts.workers} worker container(s) serving ${total} sessions`);
  const activeItems = () => [...playground.work.values()].filter((r) => workIds.has(r.item.id) && (r.item.state === 'active' || r.item.state === 'starting'));
  const counts: Record<string, number> = {};
  const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
  const faults = setInterval(() => {
    if (random() >= opts.faultRate) return;
    const fault = ORDINARY_FAULTS[Math.floor(random() * ORDINARY_FAULTS.length)]!;
    if (applyFault(playground, fault, { random, ttlMs: 3_000, activeItems })) count(fault);
  }, 250);
  const memoryPeak = fleet.map(() => 0);
  const sampler = setInterval(() => {
    fleet.forEach((w, i) => {
      void docker.getContainer(w.name).stats({ stream: false }).then(
        // Less the page cache of what it wrote (session logs), as `docker stats` and the window count it.
        // A container between a kill and its restart answers with no memory_stats at all.
        (s) => (memoryPeak[i] = Math.max(memoryPeak[i]!, ((s.memory_stats?.usage ?? 0) - ((s.memory_stats?.stats as Record<string, number> | undefined)?.['inactive_file'] ?? 0)) / 2 ** 20)),
        () => {},
      );
    });
  }, 5_000);

  // ---- disruptions at fixed points of progress: SIGKILL of one worker (then started again, as a restart policy would), docker restart of another ----
  const done = () => sessions.filter((s) => playground.record(s.work.id).item.state === 'stopped').length;
  const disruptions = opts.disrupt && fleet.length > 1
    ? [
        { at: 1 / 3, what: 'kill -9' as const, worker: fleet[0]! },
        { at: 2 / 3, what: 'docker restart' as const, worker: fleet[1]! },
      ]
    : [];
  while (done() < total && Date.now() < opts.deadline) {
    const next = disruptions[0];
    if (next && done() >= next.at * total) {
      disruptions.shift();
      log(`${next.what} ${next.worker.name} at ${done()}/${total}`);
      if (next.what === 'kill -9') {
        await run('docker', ['kill', '--signal', 'KILL', next.worker.name]);
        await run('docker', ['start', next.worker.name]);
      } else {
        await run('docker', ['restart', '--time', '20', next.worker.name]);
      }
      count(next.what);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (Date.now() - started) / 1000;
  clearInterval(faults);
  playground.clearFaults();
  clearInterval(sampler);
  // docker stop: SIGTERM through tini, the worker drains and removes what it started.
  await Promise.all(fleet.map((w) => run('docker', ['stop', '--time', '30', w.name])));
  await new Promise((r) => setTimeout(r, 1_000));
  watch.stop();

  // ---- the ledger ----
  const finished = done();
  const lost = sessions.filter((s) => playground.record(s.work.id).item.state !== 'stopped').map((s) => s.work.id);
  const completed = sessions.filter((s) => playground.sessions.results(s.sessionId).length === kinds[s.kind]!.length).length;
  const orphans = (await watch.orphans()).length;
  const claimsLeft = fleet.reduce((n, w) => n + (existsSync(join(w.dataDir, 'leases')) ? readdirSync(join(w.dataDir, 'leases')).length : 0), 0);
  const allSecrets = [environmentKey, playground.apiKey, ...[...playground.work.values()].map((r) => r.sessionsToken)];
  let logLeaks = 0;
  let workerConfig = 0;
  for (const w of fleet) {
    const output = await containerLogs(w.name);
    logLeaks += allSecrets.filter((secret) => output.includes(secret)).length;
    // Every key and token starts with sk-ant-: one pass per file finds any of them.
    const sessionLogs = join(w.dataDir, 'logs', 'sessions');
    logLeaks += readdirSync(sessionLogs).filter((f) => readFileSync(join(sessionLogs, f)).includes('sk-ant-')).length;
    const info = await docker.getContainer(w.name).inspect();
    if (allSecrets.some((secret) => JSON.stringify([info.Args, info.Config.Env, info.Config.Cmd]).includes(secret))) workerConfig++;
  }
  // Each worker's share: the items it started a session container for, over all items started.
  const itemsBy = fleet.map((w) => new Set([...watch.lives.values()].filter((l) => l.install === w.installId).map((l) => l.workId)));
  const served = itemsBy.reduce((n, s) => n + s.size, 0);
  await Promise.all(fleet.map((w) => run('docker', ['rm', '-f', w.name]).catch(() => {})));
  return {
    name: opts.name,
    workers: opts.workers,
    total,
    finished,
    lost,
    completed,
    doubled: watch.doubled(),
    orphans,
    claimsLeft,
    leaks: { logs: logLeaks, env: watch.envLeaks.length, workerConfig },
    shares: itemsBy.map((s) => (served ? s.size / served : 0)),
    deliveries: [...playground.work.values()].filter((r) => workIds.has(r.item.id)).reduce((n, r) => n + r.deliveries.length, 0),
    containers: watch.lives.size,
    faults: counts,
    seconds,
    perMinute: finished / (seconds / 60),
    memoryPeakMb: memoryPeak,
  };
}

const pct = (share: number) => `${(share * 100).toFixed(0)} %`;

function printLedger(r: PhaseResult, seed: number, faultRate: number): void {
  console.log(`
Fleet soak ledger: ${r.name} (seed ${seed}, fault rate ${faultRate}; from the playground's and Docker's records)
  items queued                 ${r.total}
  items finished (stopped)     ${r.finished}   (${r.completed} ran every tool call; the rest were stopped, stolen or killed on purpose)
  lost                         ${r.lost.length}${r.lost.slice(0, 5).map((id) => `\n    ${id}`).join('')}
  served twice (containers)    ${r.doubled.length}${r.doubled.length ? `   ${r.doubled.slice(0, 5).join(' ')}` : ''}
  orphan containers            ${r.orphans}   claim records left: ${r.claimsLeft}
  secrets leaked               ${r.leaks.logs + r.leaks.env + r.leaks.workerConfig}   (logs and output: ${r.leaks.logs}; session containers' environments: ${r.leaks.env}; worker containers' argv and environment: ${r.leaks.workerConfig})
  each worker's share          ${r.shares.map(pct).join(', ')}${r.workers > 1 ? `   (each must be ≥ ${FAIR_SHARE * 100} %)` : ''}
  deliveries                   ${r.deliveries} for ${r.total} items
  containers started           ${r.containers}
  faults injected              ${Object.entries(r.faults).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}
  worker memory (peak)         ${r.memoryPeakMb.map((m) => `${m.toFixed(0)} MiB`).join(', ')}
  took                         ${r.seconds.toFixed(0)} s: ${r.perMinute.toFixed(1)} sessions/min`);
}
