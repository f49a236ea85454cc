/**
 * Does the worker's memory stay flat over many items? One worker process serves `--items`
 * work items back to back (sessions in the quick busybox image, and healthchecks); its RSS
 * and open descriptors are read from /proc at every tenth of the run, and the CPU time it used by then.
 *
 *   npx tsx bench/memory.ts [--items 1000] [--max-sessions 4]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { buildScriptImage } from '../test/helpers/docker.js';
import { cpuSeconds, spawnWorker, stopped } from './support.js';

const { values } = parseArgs({ options: { items: { type: 'string', default: '1000' }, 'max-sessions': { type: 'string', default: '4' } } });
const total = Number(values.items);
await buildScriptImage('outpost-bench-memory', 'echo working; echo on stderr >&2');

const playground = new AnthropicPlayground({ leaseTtlSeconds: 10 });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('memory');
const items = Array.from({ length: total }, (_, i) => playground.enqueue(environment.id, { type: i % 4 === 3 ? 'healthcheck' : 'session' }));
const worker = spawnWorker(url, environment.id, environmentKey, ['--image', 'outpost-bench-memory', '--max-sessions', values['max-sessions']!, '--grace-seconds', '1']);
const pid = worker.proc.pid!;
const read = () => ({
  rssMb: Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024,
  fds: readdirSync(`/proc/${pid}/fd`).length,
  cpu: cpuSeconds(pid),
});

const started = Date.now();
const rows: string[] = [];
let next = 1;
for (;;) {
  const done = items.filter((i) => playground.record(i.id).item.state === 'stopped').length;
  while (next <= 10 && done >= (total * next) / 10) {
    const { rssMb, fds, cpu } = read();
    rows.push(`  ${String(next * 10).padStart(3)} %  ${String(done).padStart(6)} items  RSS ${rssMb.toFixed(0).padStart(4)} MiB  descriptors ${fds}  CPU ${cpu.toFixed(1).padStart(5)} s`);
    next++;
  }
  if (done === total) break;
  await new Promise((r) => setTimeout(r, 200));
}
const seconds = (Date.now() - started) / 1000;
await stopped(worker.proc);
await playground.close();
console.log(`\nOne worker process, ${total} items (3 sessions : 1 healthcheck), ${seconds.toFixed(0)} s:`);
console.log(rows.join('\n'));
process.exit(0);
