import type Docker from 'dockerode';
import type { AnthropicPlayground } from '../../playground/anthropic.js';
import type { ToolResult } from '../../playground/sessions.js';
import { startWorker, waitFor, type WorkerProcess } from './worker.js';

/**
 * A hostile session that tries to outlive its lease (session-keeper.test.ts, podman.test.ts). Its first
 * tool call does all a process of its uid can to keep its container alive past its Outpost: a job in its
 * own session (setsid) opens, for writing, every descriptor of every process it can reach — the
 * runner's stdin among them (`exec 3>/proc/<runner>/fd/0`) — and sleeps holding them. It also says what
 * it could reach of PID 1 (the engine's init, root) and of the keeper (the runner's parent).
 */
export const HOLD = [
  'R=$PPID',
  `setsid bash -c 'exec 3>>/proc/${'$1'}/fd/0; for f in /proc/[0-9]*/fd/*; do exec {x}>>"$f"; done; exec sleep 600' hold "$R" </dev/null >/dev/null 2>&1 &`,
  'sleep 1',
  'echo "runner $R"',
  'ls /proc/1/fd >/dev/null 2>&1 && echo "pid 1 fds: open" || echo "pid 1 fds: refused"',
  'kill -0 1 2>/dev/null && echo "pid 1 signal: allowed" || echo "pid 1 signal: refused"',
  'K=$(sed -n "s/^PPid:[[:space:]]*//p" /proc/$R/status)',
  'ls /proc/$K/fd >/dev/null 2>&1 && echo "keeper fds: open" || echo "keeper fds: refused"',
  'kill -0 $K 2>/dev/null && echo "keeper signal: allowed" || echo "keeper signal: refused"',
].join('\n');

/** After the hold, the agent keeps asking: each call takes 2 s, so one is in flight when the worker dies. */
export const KEEP_POSTING = Array.from({ length: 20 }, (_, i) => ({ name: 'bash', input: { command: `sleep 2; echo still serving ${i}` } }));

/** What the hold reported: it reached neither PID 1 nor the keeper. */
export const HOLD_REFUSED = [/pid 1 fds: refused/, /pid 1 signal: refused/, /keeper fds: refused/, /keeper signal: refused/];

/** What became of a session whose worker was killed under it (`killUnderHold`). */
export interface KilledUnderHold {
  /** What the hold's tool call answered. */
  hold: ToolResult;
  /** From the worker's death to its container no longer running. */
  msToEnd: number;
  exitCode: number;
  /** Tool results that arrived after the kill. */
  late: ToolResult[];
}

/**
 * Serve a hostile session (HOLD, then KEEP_POSTING) with a real worker on `engine` (DOCKER_HOST), warm or
 * cold, SIGKILL the worker once the hold is in place, and see what became of its container. The
 * container is removed afterwards (no Outpost is left to remove it).
 */
export async function killUnderHold(opts: {
  playground: AnthropicPlayground;
  image: string;
  warm: boolean;
  engine: Docker;
  dockerHost?: string;
  workers: WorkerProcess[];
}): Promise<KilledUnderHold> {
  const { playground, engine } = opts;
  const { environment, environmentKey } = playground.createEnvironment(`keeper-${opts.warm ? 'warm' : 'cold'}`);
  const w = startWorker({
    baseUrl: playground.url,
    environmentId: environment.id,
    environmentKey,
    args: ['--image', opts.image, '--grace-seconds', '1', '--max-sessions', '1', '--warm', opts.warm ? '1' : '0'],
    ...(opts.dockerHost ? { env: { DOCKER_HOST: opts.dockerHost } } : {}),
  });
  opts.workers.push(w);
  const ours = () => engine.listContainers({ all: true, filters: { label: [`outpost.install=${w.installId()}`] } });
  if (opts.warm) await waitFor('a warm container', () => ours().then((l) => l.some((c) => c.Labels['outpost.warm'] && c.State === 'running') || null), 60_000);
  const { sessionId, work } = playground.createSession(environment.id, { calls: [{ name: 'bash', input: { command: HOLD } }, ...KEEP_POSTING] });
  await waitFor('the hold in place and the next call under way', () => playground.sessions.results(sessionId).length >= 1 || null, 60_000);
  const serving = (await ours()).find((c) => c.Labels['outpost.work_id'] === work.id || c.Names.some((n) => n.startsWith(`/outpost-${work.id}-`)));
  if (!serving) throw new Error(`no container serves ${work.id}`);
  w.signal('SIGKILL');
  await w.exited;
  const killedAt = Date.now();
  try {
    const ended = await waitFor(
      'the container to end',
      async () => {
        const info = await engine.getContainer(serving.Id).inspect();
        return info.State.Running ? null : info;
      },
      15_000,
    );
    const results = playground.sessions.results(sessionId);
    return { hold: results[0]!, msToEnd: Date.now() - killedAt, exitCode: ended!.State.ExitCode, late: results.filter((r) => r.at > killedAt) };
  } finally {
    await engine.getContainer(serving.Id).remove({ force: true }).catch(() => {});
  }
}

/** Every container a test's workers left on `engine` (a failed run: no Outpost is left to remove them). */
export async function removeLeftContainers(engine: Docker, workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) if (w.proc.exitCode === null) w.signal('SIGKILL');
  for (const w of workers) {
    // An engine that died meanwhile has nothing to list: the test has failed already, and says why.
    const left = await engine.listContainers({ all: true, filters: { label: [`outpost.install=${w.installId()}`] } }).catch(() => []);
    for (const c of left) await engine.getContainer(c.Id).remove({ force: true }).catch(() => {});
  }
}
