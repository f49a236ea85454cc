/**
 * The worker's idle cost: control-plane requests and CPU per minute with an empty queue.
 * Usage: tsx bench/idle.ts [--seconds 60]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { cpuSeconds, spawnWorker, stopped } from './support.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const seconds = Number(values.seconds);

const playground = new AnthropicPlayground();
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('idle');
const worker = spawnWorker(url, environment.id, environmentKey, ['--image', 'outpost-test-base']);
// Let start-up (module loading, recovery) pass before measuring.
await new Promise((r) => setTimeout(r, 5_000));
const polls0 = playground.requests['work.poll'] ?? 0;
const cpu0 = cpuSeconds(worker.proc.pid!);
await new Promise((r) => setTimeout(r, seconds * 1000));
const polls = (playground.requests['work.poll'] ?? 0) - polls0;
const cpu = cpuSeconds(worker.proc.pid!) - cpu0;
const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${worker.proc.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
await stopped(worker.proc);
await playground.close();

const perMinute = 60 / seconds;
console.log(`\nIdle worker, empty queue, ${seconds} s measured`);
console.log(`requests to the control plane   ${(polls * perMinute).toFixed(1)} per minute (all polls, block_ms 999 + 1–3 s jitter)`);
console.log(`CPU                             ${(cpu * perMinute).toFixed(2)} s per minute`);
console.log(`resident memory                 ${rssMb.toFixed(0)} MiB`);
process.exit(0);
