/**
 * A search over a 1,000,000-line session log (the window's e2e log: the match near the end) as the
 * headless worker runs it: V8 told first what the worker tells it at start (cli/worker-v8.ts: no
 * optimising compiler, process-wide, so the search's thread inherits it), and the build's modules, so
 * the search thread loads the compiled search-worker.js as the worker does. Prints, per run, the search's
 * time (wall and CPU), how long the event loop was held, and this process's RSS before, at its peak
 * during, and after the search (sampled every 5 ms): what a search costs the worker in memory.
 *
 *   npm run bench:log-search [-- --lines 1000000 --runs 5 --inline --plain-v8]
 *
 * --inline scans on the main thread (as LogFile.search did before it moved to a worker thread);
 * --plain-v8 leaves V8's flags alone (as the Electron app runs).
 */
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { useWorkerV8Flags } from '../electron/core/cli/worker-v8.js';

const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    inline: { type: 'boolean', default: false },
    'plain-v8': { type: 'boolean', default: false },
  },
});
if (!values['plain-v8']) useWorkerV8Flags();
const built = (name: string) => join(fileURLToPath(new URL('..', import.meta.url)), 'dist/electron/core/logs', name);
if (!existsSync(built('log-file.js'))) throw new Error('bench/log-search.ts runs the built modules: npm run build first (npm run bench:log-search does)');
type LogFileModule = typeof import('../electron/core/logs/log-file.js');
type ScanModule = typeof import('../electron/core/logs/search-scan.js');
const { LogFile } = (await import(pathToFileURL(built('log-file.js')).href)) as LogFileModule;
const { scanForLines } = (await import(pathToFileURL(built('search-scan.js')).href)) as ScanModule;

const lines = Number(values.lines);
const needleLine = lines - 10;
const path = join(mkdtempSync(join(tmpdir(), 'outpost-bench-search-')), 'session.log');
const out = createWriteStream(path);
for (let from = 1; from <= lines; from += 50_000) {
  let text = '';
  for (let i = from; i < from + 50_000 && i <= lines; i++) {
    text += i === needleLine ? `line ${i} the needle-in-the-haystack\n` : `line ${i} \u001b[36mtool\u001b[0m bash ok: nothing to see here\n`;
  }
  if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
}
await new Promise<void>((r) => out.end(() => r()));
const bytes = statSync(path).size;

const mib = (b: number) => (b / 2 ** 20).toFixed(0);
console.log(
  `log search, ${lines.toLocaleString('en')} lines (${mib(bytes)} MiB), ${values.inline ? 'on the main thread' : 'in a worker thread'}, ` +
    `${values['plain-v8'] ? "V8's default flags" : "the worker's V8 flags (cli/worker-v8.ts)"}:`,
);
const times: number[] = [];
for (let run = 1; run <= Number(values.runs); run++) {
  await new Promise((r) => setTimeout(r, 200));
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 5);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await new Promise((r) => setTimeout(r, 50)); // the histogram's first sample, so a held loop shows as a gap
  const cpu = process.cpuUsage();
  const started = performance.now();
  const found = values.inline ? scanForLines(path, bytes, 'needle-in-the-haystack', 10_000) : await new LogFile(path).search('needle-in-the-haystack', 10_000);
  const ms = performance.now() - started;
  const cpuMs = (({ user, system }) => (user + system) / 1000)(process.cpuUsage(cpu));
  await new Promise((r) => setTimeout(r, 50)); // one more sample after a held loop
  delay.disable();
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  if (found.total !== 1 || found.matches[0] !== needleLine - 1) throw new Error(`wrong answer: ${JSON.stringify(found)}`);
  times.push(ms);
  console.log(
    `  run ${run}: search ${ms.toFixed(0)} ms (CPU ${cpuMs.toFixed(0)} ms), event loop held ≤ ${(delay.max / 1e6).toFixed(0)} ms; ` +
      `RSS of this process ${mib(rssBefore)} MiB before, ${mib(rssPeak)} at the peak, ${mib(process.memoryUsage.rss())} after`,
  );
}
rmSync(dirname(path), { recursive: true, force: true });
const sorted = [...times].sort((a, b) => a - b);
console.log(`  search: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, best ${sorted[0]!.toFixed(0)} ms, worst ${sorted.at(-1)!.toFixed(0)} ms (goal ≤ 500 ms)`);
