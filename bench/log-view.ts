/**
 * What the window's log view costs the core on a 1,000,000-line session log: indexing it on
 * first open, serving a screenful anywhere in it, and searching it whole.
 *
 *   npx tsx bench/log-view.ts [--lines 1000000]
 */
import { createWriteStream, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LogFile } from '../electron/core/logs/log-file.js';
import { percentile } from './support.js';

const lines = Number(parseArgs({ options: { lines: { type: 'string', default: '1000000' } } }).values.lines);
const path = join(mkdtempSync(join(tmpdir(), 'outpost-bench-log-')), 'session.log');
await new Promise<void>((resolve, reject) => {
  const out = createWriteStream(path).on('error', reject);
  let chunk = '';
  for (let i = 1; i <= lines; i++) {
    chunk += i === lines - 10 ? `line ${i} the needle\n` : `line ${i} \u001b[36mtool\u001b[0m bash ok: nothing to see here\n`;
    if (i % 50_000 === 0 || i === lines) {
      out.write(chunk);
      chunk = '';
    }
  }
  out.end(resolve);
});

const time = <T>(f: () => T): [T, number] => {
  const started = performance.now();
  const value = f();
  return [value, performance.now() - started];
};
const log = new LogFile(path);
const [info, indexMs] = time(() => log.info());
const pageMs = Array.from({ length: 200 }, () => time(() => log.lines(Math.floor(Math.random() * (lines - 500)), 500))[1]);
const searchStarted = performance.now();
const found = await log.search('needle', 10_000);
const searchMs = performance.now() - searchStarted;
const [, growMs] = time(() => log.info());

console.log(`log view, ${info.lines.toLocaleString()} lines, ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB:`);
console.log(`  first open (index every line): ${indexMs.toFixed(0)} ms (the index: 8 bytes a line)`);
console.log(`  a 500-line page anywhere: p50 ${percentile(pageMs, 50).toFixed(2)} ms, p95 ${percentile(pageMs, 95).toFixed(2)} ms`);
console.log(`  search the whole log (in a worker thread): ${searchMs.toFixed(0)} ms (match at line ${found.matches[0]! + 1})`);
console.log(`  look again with nothing new: ${growMs.toFixed(2)} ms`);
