/**
 * How long the core's file walks hold the event loop of the process that hosts it (the Electron main
 * process: its window and tray freeze while it is held). A finished session's workspace of N files is
 * defused (worker/workspace-defuse.ts) while retention removes an old session's workspace of N files
 * (Outpost.pruneOldSessions), both at once, through the real code paths of an open Outpost. Printed:
 * the event loop's longest delay (perf_hooks), the longest gap between ticks of a 1 ms interval, and
 * the total time; and the longest main-thread task, its time on a CPU between two ticks (Linux's
 * schedstat), since on a shared 2-core machine a gap may be only the main thread waiting for a core.
 * The goal: no main-thread task over 50 ms.
 *
 *   npx tsx bench/main-thread-stall.ts [--files 100000] [--inline] [--dir /tmp] [--source]
 *
 * It runs the built core (npm run build), as the desktop app loads it; --source runs the TypeScript under tsx.
 * --inline runs the same walks on the main thread, as the core did before they moved to worker threads.
 * --dir is where the trees are made (the machine's temporary folder by default; /dev/shm takes the disk out).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Logger } from '../electron/core/logs/log.js';
import { memorySecrets } from '../test/helpers/secrets.js';

const { values } = parseArgs({
  options: { files: { type: 'string', default: '100000' }, inline: { type: 'boolean', default: false }, dir: { type: 'string', default: tmpdir() }, source: { type: 'boolean', default: false } },
});
// The core as it ships (tsc's modules, which the Electron main process loads, and their threads' compiled
// scripts), or with --source its TypeScript under tsx (each thread then registers tsx first).
const core = values.source ? '../electron/core/' : '../dist/electron/core/';
if (!values.source && !existsSync(new URL(`${core}outpost.js`, import.meta.url))) {
  console.error('run npm run build first (or pass --source)');
  process.exit(64);
}
const { Outpost } = (await import(`${core}outpost.js`)) as typeof import('../electron/core/outpost.js');
const { defuseWorkspace } = (await import(`${core}runtime/defuse.js`)) as typeof import('../electron/core/runtime/defuse.js');
const { emptyFolder } = (await import(`${core}store/trash.js`)) as typeof import('../electron/core/store/trash.js');
const { defuseAfterSession } = (await import(`${core}worker/workspace-defuse.js`)) as typeof import('../electron/core/worker/workspace-defuse.js');
const files = Number(values.files);
const base = mkdtempSync(join(values.dir, 'outpost-bench-stall-'));
const said: string[] = [];
const logger: Logger = { debug() {}, info: (m) => said.push(m), warn: (m, f) => said.push(`${m} ${JSON.stringify(f ?? {})}`), error: (m, f) => said.push(`${m} ${JSON.stringify(f ?? {})}`) };
const outpost = Outpost.open({ dataDir: join(base, 'data'), secrets: memorySecrets(), logger });
await outpost.pruneOldSessions(); // the one at open: nothing to remove yet

/** A tree of `count` files as node_modules has them (50 to a folder, three deep), a 64-deep chain, links out of it. */
function makeTree(root: string, count: number): void {
  for (let made = 0, pkg = 0; made < count; pkg++) {
    for (let mod = 0; mod < 10 && made < count; mod++) {
      const dir = join(root, `pkg${pkg}`, 'lib', `m${mod}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 50 && made < count; f++, made++) writeFileSync(join(dir, `f${f}.js`), '', { mode: made % 100 === 0 ? 0o664 : 0o644 });
    }
  }
  let deep = root;
  for (let i = 0; i < 64; i++) mkdirSync((deep = join(deep, `d${i}`)));
  symlinkSync('/', join(root, 'to-root'));
  symlinkSync(outside, join(deep, 'to-outside'));
}

const outside = join(base, 'outside');
mkdirSync(outside);
writeFileSync(join(outside, 'host-file'), 'host\n', { mode: 0o666 });
chmodSync(join(outside, 'host-file'), 0o666);
const made = performance.now();
const defusing = outpost.paths.workspace('env_bench', 'work_done');
makeTree(defusing, files);
chmodSync(join(defusing, 'pkg0', 'lib', 'm0', 'f1.js'), 0o4755);
execFileSync('mkfifo', [join(defusing, 'pkg0', 'fifo')]);
const old = outpost.paths.workspace('env_bench', 'work_old');
makeTree(old, files);
const monthAgo = Date.now() / 1000 - 30 * 24 * 3600;
utimesSync(old, monthAgo, monthAgo);
console.log(`made 2 × ${files.toLocaleString('en')} files in ${((performance.now() - made) / 1000).toFixed(1)} s`);

interface Held {
  maxMs: number;
  p99Ms: number;
  /** The longest gap between ticks of a 1 ms interval, and of it the main thread's time on a CPU and waiting for one. */
  gap: Gap;
  /** The gap in which the main thread ran longest on a CPU: its longest task. */
  task: Gap;
  totalMs: number;
}
interface Gap {
  ms: number;
  cpuMs: number;
  waitMs: number;
}

/**
 * The main thread's time on a CPU and waiting in the run queue, in ns (Linux: /proc/thread-self/schedstat).
 * A gap spent waiting is the machine's other threads and processes holding both cores, not a task of ours.
 */
function schedstat(): [number, number] {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return [cpu!, wait!];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

/** How long `run` holds this thread's event loop: its longest delay, and the longest gaps between ticks of a 1 ms interval. */
async function watch(run: () => unknown): Promise<Held> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let last = 0;
  let lastSched = schedstat();
  let gap: Gap = { ms: 0, cpuMs: 0, waitMs: 0 };
  let task: Gap = gap;
  const ticker = setInterval(() => {
    const now = performance.now();
    const sched = schedstat();
    const tick = { ms: now - last, cpuMs: (sched[0] - lastSched[0]) / 1e6, waitMs: (sched[1] - lastSched[1]) / 1e6 };
    if (tick.ms > gap.ms) gap = tick;
    if (tick.cpuMs > task.cpuMs) task = tick;
    last = now;
    lastSched = sched;
  }, 1);
  delay.enable();
  await sleep(50); // the histogram's first sample, so a held loop shows as a gap
  last = performance.now();
  lastSched = schedstat();
  gap = task = { ms: 0, cpuMs: 0, waitMs: 0 };
  const started = performance.now();
  await run();
  const totalMs = performance.now() - started;
  await sleep(50); // one more sample after a held loop
  delay.disable();
  clearInterval(ticker);
  return { maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6, gap, task, totalMs };
}

// This machine's own noise (other processes on its cores), measured the same way with nothing to do.
const idle = await watch(() => sleep(2_000));
let pruned = 0;
const held = await watch(async () => {
  if (values.inline) {
    // What the core did before: both walks on this thread, one after the other.
    const defused = defuseWorkspace(defusing);
    logger.warn('defused (inline)', { removed: defused.removed.length, setuid_stripped: defused.stripped.length });
    pruned = outpost.paths.pruneSessionFiles(14);
    emptyFolder(outpost.paths.trash);
  } else {
    const deps = { runtime: outpost.runtime, logger, installId: 'bench', instanceId: 'bench' };
    [, pruned] = await Promise.all([defuseAfterSession(deps, defusing, 'work_done'), outpost.pruneOldSessions()]);
  }
});

// The walks did what they are for, and nothing past a link.
const problems: string[] = [];
if (existsSync(join(defusing, 'pkg0', 'fifo'))) problems.push('the fifo is still there');
if (statSync(join(defusing, 'pkg0', 'lib', 'm0', 'f1.js')).mode & 0o6000) problems.push('the setuid bit is still there');
if (lstatSync(join(defusing, 'pkg0', 'lib', 'm0', 'f0.js')).mode & 0o022) problems.push('a group-writable file stayed so');
if (existsSync(old) || readdirSync(outpost.paths.trash).length) problems.push('retention left the old workspace');
if ((statSync(join(outside, 'host-file')).mode & 0o777) !== 0o666 || !existsSync(join(outside, 'host-file'))) problems.push('a walk went through a link');
await outpost.dispose();
rmSync(base, { recursive: true, force: true });

const ms = (n: number) => `${n.toFixed(1)} ms`;
const parts = (g: Gap) => (Number.isNaN(g.cpuMs) ? '' : ` (${ms(g.cpuMs)} of it on a CPU, ${ms(g.waitMs)} waiting for one)`);
console.log(`${files.toLocaleString('en')} files defused while retention removes ${files.toLocaleString('en')} more, ${values.inline ? 'on the main thread (before)' : 'on worker threads'}${values.source ? ' (sources under tsx)' : ''}:`);
console.log(`  longest main-thread task: ${ms(held.task.cpuMs)} on a CPU between two ticks of a 1 ms interval`);
console.log(`  event loop: longest delay ${ms(held.maxMs)} (p99 ${ms(held.p99Ms)}); longest gap between ticks ${ms(held.gap.ms)}${parts(held.gap)}`);
console.log(`  total: ${held.totalMs.toFixed(0)} ms; retention removed ${pruned} session; ${said.filter((s) => /defused/.test(s)).join('; ')}`);
console.log(`  idle, for comparison (2 s, nothing running in this process): longest delay ${ms(idle.maxMs)}, longest gap ${ms(idle.gap.ms)}${parts(idle.gap)}`);
if (problems.length) {
  console.log(`  WRONG: ${problems.join('; ')}`);
  process.exitCode = 1;
}
