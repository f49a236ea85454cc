/**
 * How long a search over a huge session log holds the core's event loop (on the main thread,
 * ~1.9 s over 500 MB, while heartbeats, polls and the dashboard all wait). A 1 ms interval ticks throughout;
 * the figure is the event loop's longest delay while the search runs.
 *
 *   npx tsx bench/log-search.ts [--mb 500] [--inline]
 *
 * --inline runs the same byte scan on the main thread, as LogFile.search did before it moved to a worker.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { LogFile } from '../electron/core/logs/log-file.js';
import { scanForLines } from '../electron/core/logs/search-scan.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '500' }, inline: { type: 'boolean', default: false } } });
const path = join(mkdtempSync(join(tmpdir(), 'outpost-bench-search-')), 'session.log');
const block = Array.from({ length: 20_000 }, (_, i) => `line ${i} \u001b[36mtool\u001b[0m bash ok: nothing to see here\n`).join('');
const out = createWriteStream(path);
for (let written = 0, i = 0; written < Number(values.mb) * 2 ** 20; i++) {
  const text = i === 3 ? block.replace('line 7 ', 'line 7 the needle ') : block;
  written += Buffer.byteLength(text);
  if (!out.write(text)) await new Promise<void>((r) => out.once('drain', () => r()));
}
await new Promise<void>((r) => out.end(() => r()));
const bytes = statSync(path).size;

const delay = monitorEventLoopDelay({ resolution: 1 });
let ticks = 0;
const ticker = setInterval(() => ticks++, 1);
delay.enable();
await new Promise((r) => setTimeout(r, 50)); // the histogram's first sample, so a held loop shows as a gap
const started = performance.now();
const found = values.inline ? scanForLines(path, bytes, 'needle', 10_000) : await new LogFile(path).search('needle', 10_000);
const searchMs = performance.now() - started;
await new Promise((r) => setTimeout(r, 50)); // one more sample after a held loop
delay.disable();
clearInterval(ticker);
rmSync(dirname(path), { recursive: true, force: true });

console.log(`log search, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${values.inline ? 'on the main thread (before)' : 'in a worker thread'}:`);
console.log(`  search: ${searchMs.toFixed(0)} ms, ${found.total} match at line ${found.matches[0]! + 1}`);
console.log(`  event loop while it ran: max delay ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ${ticks} ticks of a 1 ms interval`);
