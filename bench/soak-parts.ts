/**
 * What the chaos soaks (bench/soak.ts, and bench/fleet-soak.ts with worker containers) run and watch: the
 * real headless worker as a child process, with every SIGTERM it is sent timed to its exit, the session mix
 * and the ordinary faults, and Docker's own record of each container's life.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { AnthropicPlayground, RouteName, WorkRecord } from '../playground/anthropic.js';
import type { ToolCall } from '../playground/sessions.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `outpost worker …`, built (npm run build), restarted as the soak says; its output across every run. */
export class SoakWorker {
  output = '';
  /** How long each SIGTERM took to end the process, in ms. */
  readonly sigterms: number[] = [];
  #proc!: ChildProcess;

  constructor(
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {
    this.start();
  }

  get pid(): number | undefined {
    return this.#proc.exitCode === null ? this.#proc.pid : undefined;
  }

  start(): void {
    this.#proc = spawn(process.execPath, [join(root, 'dist/electron/core/cli.js'), 'worker', ...this.args], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.#proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  async kill9(): Promise<void> {
    this.#proc.kill('SIGKILL');
    await this.#exited();
  }

  /** SIGTERM, once, as a user or a service manager sends it: the time to exit is recorded. */
  async terminate(): Promise<number> {
    const sentAt = Date.now();
    this.#proc.kill('SIGTERM');
    await this.#exited();
    const ms = Date.now() - sentAt;
    this.sigterms.push(ms);
    return ms;
  }

  #exited(): Promise<void> {
    const proc = this.#proc;
    return new Promise((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
  }

  /** RSS (MiB) and open descriptors now, from /proc; undefined between runs. */
  sample(): { rssMb: number; fds: number } | undefined {
    const pid = this.pid;
    if (!pid) return undefined;
    try {
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      return { rssMb: rss, fds: readdirSync(`/proc/${pid}/fd`).length };
    } catch {
      return undefined; // the worker was just killed
    }
  }
}

export interface ContainerLife {
  workId: string;
  /** The data folder (install) of the worker that started it: a fleet's shares. */
  install: string;
  start: number;
  die?: number;
}

/**
 * Docker's own record of one environment's containers: each one's life (from the start and die events) and
 * any whose environment holds a secret that is not its own. Watches again after `restart` (a Docker restart).
 */
export class ContainerWatch {
  readonly lives = new Map<string, ContainerLife>();
  readonly envLeaks: string[] = [];
  /** Warm containers (started before their item) that were handed one. */
  warmHandovers = 0;
  #stop: () => void = () => {};

  constructor(
    private readonly docker: Docker,
    private readonly environmentId: string,
    private readonly secretsFor: (workId: string) => string[],
  ) {}

  async start(): Promise<void> {
    const stream = (await this.docker.getEvents({
      filters: { type: ['container'], event: ['start', 'die', 'rename'], label: [`outpost.environment_id=${this.environmentId}`] },
    })) as NodeJS.ReadableStream & { destroy(): void };
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) this.#event(JSON.parse(line) as DockerEvent);
    });
    this.#stop = () => stream.destroy();
  }

  stop(): void {
    this.#stop();
  }

  /** Work ids that had two containers alive at once. */
  doubled(): string[] {
    const byItem = new Map<string, Array<{ start: number; die: number }>>();
    // A warm container never handed an item served nothing.
    for (const life of [...this.lives.values()].filter((l) => l.workId)) byItem.set(life.workId, [...(byItem.get(life.workId) ?? []), { start: life.start, die: life.die ?? Infinity }]);
    return [...byItem].filter(([, ls]) => ls.some((a, i) => ls.some((b, j) => i < j && a.start < b.die && b.start < a.die))).map(([id]) => id);
  }

  ran(workId: string): boolean {
    return [...this.lives.values()].some((l) => l.workId === workId);
  }

  async orphans(): Promise<string[]> {
    const left = await this.docker.listContainers({ all: true, filters: { label: [`outpost.environment_id=${this.environmentId}`] } });
    return left.map((c) => c.Id.slice(0, 12));
  }

  #event(e: DockerEvent): void {
    const workId = e.Actor.Attributes['outpost.work_id'] ?? '';
    const at = e.timeNano / 1e6;
    if (e.status === 'rename') {
      // A warm container's life as the item's starts at its handover, when it is renamed outpost-<work id>-…:
      // before, it served nothing and held no credential.
      const life = this.lives.get(e.id);
      const handedTo = /^\/?outpost-(.+)-[0-9a-f]{6}$/.exec(e.Actor.Attributes['name'] ?? '')?.[1];
      if (life && !life.workId && handedTo) (life.workId = handedTo), (life.start = at), this.warmHandovers++;
      return;
    }
    if (e.status !== 'start') {
      const life = this.lives.get(e.id);
      if (life) life.die = at;
      return;
    }
    this.lives.set(e.id, { workId, install: e.Actor.Attributes['outpost.install'] ?? '', start: at });
    void this.docker
      .getContainer(e.id)
      .inspect()
      .then(
        (info) => {
          const env = info.Config.Env.join('\n');
          for (const secret of this.secretsFor(workId)) if (env.includes(secret)) this.envLeaks.push(`container ${e.id.slice(0, 12)} (${workId || 'warm'}) holds a secret that is not its own`);
        },
        () => {},
      );
  }
}

interface DockerEvent {
  id: string;
  status: string;
  timeNano: number;
  Actor: { Attributes: Record<string, string> };
}

/** The worker's JSON log lines that speak of `workId` — in a field, or quoted in the message — and say it was not run. */
export function refusalsOf(output: string, workId: string): string[] {
  const quoted = JSON.stringify(workId);
  const lines: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const text = Object.entries(entry)
      .filter(([k]) => k !== 'time' && k !== 'level')
      .map(([, v]) => String(v))
      .join(' ');
    if ((entry['work_id'] === workId || text.includes(quoted)) && /not run/.test(text)) lines.push(text);
  }
  return lines;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the sessions: ordinary ones, and some that saturate a core or flood stdout ----
export const kinds: Record<string, ToolCall[]> = {
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

/** The ordinary faults, weighted (a burst twice as likely). */
export const ORDINARY_FAULTS = ['burst', 'burst', 'hang', 'malformed', 'steal', 'stop'] as const;
// Hangs only on the work endpoints: a session's own stream is the runner's to reconnect, not the lease's.
export const HANG_ROUTES: RouteName[] = ['work.poll', 'work.ack', 'work.heartbeat', 'work.stop'];
const ERROR_ROUTES: RouteName[] = [...HANG_ROUTES, 'sessions.retrieve', 'sessions.events.list', 'sessions.events.send'];

/** One ordinary fault on the playground, a short outage of `ttlMs`; false when there was no item in flight to steal or stop. */
export function applyFault(
  playground: AnthropicPlayground,
  fault: (typeof ORDINARY_FAULTS)[number],
  opts: { random: () => number; ttlMs: number; activeItems: () => WorkRecord[] },
): boolean {
  const { random, ttlMs } = opts;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  if (fault === 'burst') playground.addFault({ route: pick(ERROR_ROUTES), status: pick([429, 500, 503]), count: 1 + Math.floor(random() * 3), ttlMs });
  else if (fault === 'hang') playground.addFault({ route: pick(HANG_ROUTES), hang: true, count: 1, ttlMs });
  else if (fault === 'malformed') playground.addFault({ route: 'work.poll', malformed: pick(['json', 'shape'] as const), count: 1, ttlMs });
  else {
    const target = opts.activeItems();
    if (target.length === 0) return false;
    const item = pick(target).item.id;
    if (fault === 'steal') playground.stealLease(item);
    else playground.requestStop(item);
  }
  return true;
}
