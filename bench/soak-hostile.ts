/**
 * The soak's hostile mode (`--hostile`): a control plane that asks for an hour's wait, answers
 * one byte every 2 s or 50 MiB at once, hands out work for another environment, of a type no worker runs,
 * or with an id such as `..` — and a Bridge server beside it that hands out again what is still running
 * and fails acks for a while. Work that is hostile by design is not lost when it is refused: the ledger
 * checks it was stopped with a reason (where the protocol can carry the stop) and never ran a container.
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { AnthropicPlayground, RouteName } from '../playground/anthropic.js';
import { BridgePlayground, type BridgeRoute } from '../playground/bridge.js';
import { ContainerWatch, refusalsOf, SoakWorker } from './soak-parts.js';

const HUGE_BYTES = 50 << 20;
/** What a storm asks for: an hour (Outpost caps it). */
export const STORM_RETRY_AFTER_SECONDS = 3600;

export interface HostileItem {
  id: string;
  kind: string;
  /** The protocol can carry a stop for it: the SDK refuses to put `..` in a path, so that item is skipped, never stopped. */
  stoppable: boolean;
}

type Random = () => number;
const pickWith = (random: Random) => <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

/** Hostile work in the soak's Anthropic environment: `count` of each kind. */
export function queueHostileAnthropic(playground: AnthropicPlayground, environmentId: string, count: number): HostileItem[] {
  const foreign = playground.createEnvironment('soak-foreign').environment.id;
  const items: HostileItem[] = [];
  for (let i = 0; i < count; i++) {
    items.push({ id: playground.enqueue(environmentId, { answersAs: foreign }).id, kind: 'for another environment', stoppable: true });
    items.push({ id: playground.enqueue(environmentId, { type: 'gpu_training' }).id, kind: 'of an unknown type', stoppable: true });
    items.push({ id: playground.enqueue(environmentId, { workId: `../escape-${i}` }).id, kind: 'with an id like ../x', stoppable: true });
  }
  // One `..`: Anthropic hands it out again after every reclaim window; one is enough to prove it never runs.
  items.push({ id: playground.enqueue(environmentId, { workId: '..' }).id, kind: 'with the id ..', stoppable: false });
  return items;
}

/** One hostile fault on the Anthropic playground (beside the plain soak's): its name for the ledger. */
export function hostileAnthropicFault(playground: AnthropicPlayground, random: Random, routes: RouteName[], ttlMs: number): string {
  const pick = pickWith(random);
  const fault = pick(['retry-after storm', 'slow-loris', 'huge body'] as const);
  if (fault === 'retry-after storm') playground.addFault({ route: pick(routes), status: pick([429, 503]), retryAfterSeconds: STORM_RETRY_AFTER_SECONDS, count: 1 + Math.floor(random() * 3), ttlMs });
  else if (fault === 'slow-loris') playground.addFault({ route: pick(routes), trickle: true, count: 1, ttlMs });
  else playground.addFault({ route: pick(routes), hugeBytes: HUGE_BYTES, count: 1, ttlMs });
  return fault;
}

/**
 * The worst moment for a SIGTERM: the next poll and ack are slow-loris and hung, the heartbeat asks for an hour.
 * Resolves once the slow poll is out (or after 10 s), so the signal meets it.
 */
export async function armForSigterm(playground: AnthropicPlayground): Promise<void> {
  playground.clearFaults();
  playground.addFault({ route: 'work.ack', hang: true, count: 1, ttlMs: 10_000 });
  playground.addFault({ route: 'work.heartbeat', status: 429, retryAfterSeconds: STORM_RETRY_AFTER_SECONDS, count: 1, ttlMs: 10_000 });
  playground.addFault({ route: 'work.poll', trickle: true, count: 1, ttlMs: 10_000 });
  await taken(() => playground.requests['work.poll'] ?? 0);
}

/** Waits until `requests()` grows (the armed request is out), then a little more so the worker is inside it. */
async function taken(requests: () => number): Promise<void> {
  const before = requests();
  for (let i = 0; i < 100 && requests() === before; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
}

/** What went wrong with one hostile item. */
export interface HostileProblem {
  id: string;
  problem: string;
}

/** The ledger's line for hostile items: how many were refused as they should be, and what went wrong with the rest. */
export function hostileLine(items: HostileItem[], problems: HostileProblem[]): string {
  const wrong = new Set(problems.map((p) => p.id)).size;
  return `  hostile items refused        ${items.length - wrong} of ${items.length}, none ran${problems.map((p) => `\n    ${p.problem}`).join('')}`;
}

/** What is wrong with the hostile Anthropic items, from the playground's, Docker's and the worker's own records. */
export function judgeHostileAnthropic(items: HostileItem[], playground: AnthropicPlayground, containers: ContainerWatch, output: string): HostileProblem[] {
  const problems: HostileProblem[] = [];
  for (const item of items) {
    const rec = playground.record(item.id);
    const what = `work ${JSON.stringify(item.id)} (${item.kind})`;
    const wrong = (problem: string) => problems.push({ id: item.id, problem: `${what} ${problem}` });
    if (containers.ran(item.id)) wrong('ran a container');
    if (refusalsOf(output, item.id).length === 0) wrong('has no log line saying it was refused and not run');
    if (item.stoppable && rec.item.state !== 'stopped') wrong(`was not stopped (${rec.history.join(' → ')})`);
    // Never stoppable: then it must never have been acked either (acked, it would hold a lease nobody keeps).
    if (!item.stoppable && rec.history.includes('starting')) wrong('was acked');
  }
  return problems;
}

const BRIDGE_SCRIPTS = ['echo "$((6 * 7))"\n', 'sleep 1\necho slept\n', 'sleep 3\necho slept\n', 'head -c 1000000 /dev/zero | tr "\\0" a\n', 'echo to stderr >&2\nexit 3\n'];

/**
 * A Bridge environment served by its own worker (`--provider ainative`, scripts in busybox), against a playground
 * that hands out again every item not yet acked or stopped, and faults of its own: acks that fail with 502 for a
 * while, Retry-After storms, slow-loris and huge answers, hangs.
 */
export class BridgeSoak {
  readonly playground = new BridgePlayground({ pollIntervalMs: 300, heartbeatMs: 10_000, redeliverUnacked: true });
  readonly dataDir = mkdtempSync(join(tmpdir(), 'outpost-soak-bridge-'));
  scripts: string[] = [];
  hostile: HostileItem[] = [];
  environmentId = '';
  worker!: SoakWorker;
  containers!: ContainerWatch;

  constructor(
    private readonly docker: Docker,
    private readonly random: Random,
  ) {}

  async start(total: number, hostileCount: number, workerArgs: string[]): Promise<void> {
    const url = await this.playground.start();
    this.environmentId = this.playground.createEnvironment('byoc').environment_id;
    const pick = pickWith(this.random);
    this.scripts = Array.from({ length: total }, () => this.playground.enqueue(this.environmentId, 'code_execution', { script: pick(BRIDGE_SCRIPTS) }).work_id);
    for (let i = 0; i < hostileCount; i++) {
      this.hostile.push({ id: this.playground.enqueue(this.environmentId, 'gpu_training', { epochs: 3 }).work_id, kind: 'of an unknown type', stoppable: true });
      this.hostile.push({ id: this.playground.enqueue(this.environmentId, 'code_execution', { script: 'echo never\n' }, `../escape-${i}`).work_id, kind: 'with an id like ../x', stoppable: true });
    }
    this.hostile.push({ id: this.playground.enqueue(this.environmentId, 'code_execution', { script: 'echo never\n' }, '..').work_id, kind: 'with the id ..', stoppable: true });
    this.containers = new ContainerWatch(this.docker, this.environmentId, () => [this.playground.token]);
    await this.containers.start();
    this.worker = new SoakWorker(
      ['--provider', 'ainative', '--base-url', url, '--environment-id', this.environmentId, '--image', 'outpost-test-base', '--interpreter', 'sh', '--data-dir', this.dataDir, ...workerArgs],
      { OUTPOST_ENVIRONMENT_KEY: this.playground.token },
    );
  }

  done(): number {
    return this.scripts.filter((id) => this.#settled(id)).length;
  }

  allSettled(): boolean {
    return this.done() === this.scripts.length && this.hostile.every((h) => this.#settled(h.id));
  }

  #settled(id: string): boolean {
    const state = this.playground.work.get(id)?.state;
    return state === 'acknowledged' || state === 'stopped';
  }

  /** One fault: its name for the ledger. */
  fault(ttlMs: number): string {
    const pick = pickWith(this.random);
    const routes: BridgeRoute[] = ['work.poll', 'work.ack', 'work.stop', 'work.heartbeat'];
    const fault = pick(['ack 502s', 'ack 502s', 'retry-after storm', 'slow-loris', 'huge body', 'hang'] as const);
    if (fault === 'ack 502s') this.playground.addFault({ route: 'work.ack', status: 502, count: 1 + Math.floor(this.random() * 3), ttlMs });
    else if (fault === 'retry-after storm') this.playground.addFault({ route: pick(routes), status: 429, retryAfterSeconds: STORM_RETRY_AFTER_SECONDS, count: 1, ttlMs });
    else if (fault === 'slow-loris') this.playground.addFault({ route: pick(['work.poll', 'work.heartbeat']), trickle: true, count: 1, ttlMs });
    else if (fault === 'huge body') this.playground.addFault({ route: pick(routes), hugeBytes: HUGE_BYTES, count: 1, ttlMs });
    else this.playground.addFault({ route: pick(['work.poll', 'work.heartbeat']), hang: true, count: 1, ttlMs });
    return `bridge ${fault}`;
  }

  /** The worst moment for a SIGTERM: the next poll is slow-loris, the next heartbeat hangs. */
  async armForSigterm(): Promise<void> {
    this.playground.clearFaults();
    this.playground.addFault({ route: 'work.heartbeat', hang: true, count: 1, ttlMs: 10_000 });
    this.playground.addFault({ route: 'work.poll', trickle: true, count: 1, ttlMs: 10_000 });
    await taken(() => this.playground.requests['work.poll'] ?? 0);
  }

  /** The ledger's Bridge lines and how many things went wrong. */
  async ledger(): Promise<{ lines: string[]; failures: number }> {
    const work = (id: string) => this.playground.work.get(id)!;
    const lost = this.scripts.filter((id) => !this.#settled(id));
    const twice = this.scripts.filter((id) => work(id).reports > 1);
    const doubled = this.containers.doubled();
    const orphans = await this.containers.orphans();
    const pendingResults = listOr(join(this.dataDir, 'bridge-results'));
    const claims = listOr(join(this.dataDir, 'leases'));
    const problems: HostileProblem[] = [];
    for (const item of this.hostile) {
      const w = work(item.id);
      const wrong = (problem: string) => problems.push({ id: item.id, problem: `work ${JSON.stringify(item.id)} (${item.kind}) ${problem}` });
      if (this.containers.ran(item.id)) wrong('ran a container');
      if (w.state !== 'stopped' || !w.stopReason) wrong(`was not stopped with a reason (${w.state})`);
      if (w.reports > 1) wrong(`was stopped ${w.reports}×`);
    }
    const leaks = this.#leaks();
    const acked = this.scripts.filter((id) => work(id).state === 'acknowledged').length;
    const lines = [
      `Bridge (a server that hands out again what runs and fails acks for a while)`,
      `  scripts queued               ${this.scripts.length}   acked ${acked}, stopped with a reason ${this.scripts.length - acked - lost.length}`,
      `  lost                         ${lost.length}${lost.slice(0, 5).map((id) => `\n    ${id} ${work(id).state}, delivered ${work(id).deliveries}×`).join('')}`,
      `  served twice                 ${twice.length + doubled.length}   (results delivered twice: ${twice.length}; containers alive at once: ${doubled.length})`,
      `  orphan containers            ${orphans.length}   claim records left: ${claims.length}; results never delivered: ${pendingResults.length}`,
      hostileLine(this.hostile, problems),
      `  secrets leaked               ${leaks.length}${leaks.map((l) => `\n    ${l}`).join('')}`,
      `  deliveries                   ${[...this.playground.work.values()].reduce((n, w) => n + w.deliveries, 0)} for ${this.scripts.length + this.hostile.length} items (re-deliveries of running items included)`,
      `  containers started           ${this.containers.lives.size}`,
    ];
    return { lines, failures: lost.length + twice.length + doubled.length + orphans.length + pendingResults.length + claims.length + problems.length + leaks.length };
  }

  /** The Bridge token anywhere it must not be: the worker's output, any file in its data folder, a container's environment. */
  #leaks(): string[] {
    const token = this.playground.token;
    const leaks = [...this.containers.envLeaks];
    if (this.worker.output.includes(token)) leaks.push('the worker output');
    for (const file of filesUnder(this.dataDir)) if (readFileSync(file).includes(token)) leaks.push(file);
    return leaks;
  }

  async close(): Promise<void> {
    this.containers.stop();
    await this.playground.close();
  }
}

function listOr(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function filesUnder(dir: string): string[] {
  return listOr(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = lstatSync(path);
    return stat.isDirectory() ? filesUnder(path) : stat.isFile() ? [path] : [];
  });
}
