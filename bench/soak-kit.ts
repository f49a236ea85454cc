/**
 * What the chaos soaks share (bench/soak.ts: one worker process; bench/fleet-soak.ts: a fleet of worker
 * containers): the session mix, the seeded fault schedule, and Docker's own record of every session
 * container's life and environment, from which the ledgers are taken.
 */
import type Docker from 'dockerode';
import type { AnthropicPlayground, RouteName, WorkRecord } from '../playground/anthropic.js';
import type { ToolCall } from '../playground/sessions.js';

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

/** `total` sessions queued on the environment: 70 % ordinary, 10 % each CPU burner, stdout flood and slow. */
export function queueSessions(playground: AnthropicPlayground, environmentId: string, total: number, random: () => number) {
  return Array.from({ length: total }, () => {
    const r = random();
    const kind = r < 0.7 ? 'ordinary' : r < 0.8 ? 'cpu' : r < 0.9 ? 'flood' : 'slow';
    return { kind, ...playground.createSession(environmentId, { calls: kinds[kind]! }) };
  });
}

/** One session container's life, by Docker's events. */
export interface ContainerLife {
  workId: string;
  install: string;
  start: number;
  die?: number;
}

/**
 * Docker's own record: every session container of the environment started and died, and any that holds
 * a secret in its environment that is not its own item's (`secretsFor`). Watching again after an engine
 * restart keeps what was seen.
 */
export class ContainerWatch {
  readonly lives = new Map<string, ContainerLife>();
  readonly envLeaks: string[] = [];
  #stream: { destroy(): void } | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly environmentId: string,
    private readonly secretsFor: (workId: string) => string[],
  ) {}

  async start(): Promise<void> {
    const { docker } = this;
    const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['start', 'die'], label: [`outpost.environment_id=${this.environmentId}`] } })) as NodeJS.ReadableStream & { destroy(): void };
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const e = JSON.parse(line) as { id: string; status: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
        const workId = e.Actor.Attributes['outpost.work_id'] ?? '';
        const at = e.timeNano / 1e6;
        if (e.status === 'start') {
          this.lives.set(e.id, { workId, install: e.Actor.Attributes['outpost.install'] ?? '', start: at });
          void docker.getContainer(e.id).inspect().then(
            (info) => {
              const env = info.Config.Env.join('\n');
              for (const secret of this.secretsFor(workId)) if (env.includes(secret)) this.envLeaks.push(`container ${e.id.slice(0, 12)} (${workId}) holds a secret that is not its own`);
            },
            () => {},
          );
        } else {
          const life = this.lives.get(e.id);
          if (life) life.die = at;
        }
      }
    });
  }

  stop(): void {
    this.#stream?.destroy();
  }

  /** Items that had two containers alive at once: served twice. */
  servedTwice(): string[] {
    const byItem = new Map<string, Array<{ start: number; die: number }>>();
    for (const life of this.lives.values()) byItem.set(life.workId, [...(byItem.get(life.workId) ?? []), { start: life.start, die: life.die ?? Infinity }]);
    return [...byItem].filter(([, ls]) => ls.some((a, i) => ls.some((b, j) => i < j && a.start < b.die && b.start < a.die))).map(([id]) => id);
  }
}

/**
 * Faults on a seeded schedule, every 250 ms with probability `faultRate`: error bursts, hangs and malformed
 * answers on the work endpoints, stolen leases and stop requests on items in flight. Each is a short outage.
 */
export function startFaults(playground: AnthropicPlayground, opts: { random: () => number; faultRate: number; activeItems: () => WorkRecord[] }) {
  const { random, faultRate, activeItems } = opts;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const counts: Record<string, number> = {};
  const count = (what: string) => (counts[what] = (counts[what] ?? 0) + 1);
  // Hangs only on the work endpoints: a session's own stream is the runner's to reconnect, not the lease's.
  const hangRoutes: RouteName[] = ['work.poll', 'work.ack', 'work.heartbeat', 'work.stop'];
  const errorRoutes: RouteName[] = [...hangRoutes, 'sessions.retrieve', 'sessions.events.list', 'sessions.events.send'];
  const timer = setInterval(() => {
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
  return {
    counts,
    count,
    stop: () => {
      clearInterval(timer);
      playground.clearFaults();
    },
  };
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
