/**
 * Time from the poll response to the session's container running, beside a plain
 * `docker run` of the same image in the same run. Both ends are taken from outside
 * the worker: the playground's record of when it answered the poll, and Docker's own
 * `start` event.  Usage: tsx bench/startup.ts [--items 20]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { percentile, spawnWorker, stopped } from './support.js';

const { values } = parseArgs({ options: { items: { type: 'string', default: '20' } } });
const count = Number(values.items);
const image = 'outpost-bench-session';
const docker = new Docker();

await new Promise<void>((resolve, reject) => {
  const child = spawn('docker', ['build', '-q', '-t', image, '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('docker build failed (run test/images/build.sh first)'))));
  child.stdin.end('FROM outpost-test-base:latest\nENTRYPOINT ["/bin/sh", "-c", "echo ran"]\n');
});

/** Docker `start` events by container id, in ms since the epoch. */
const starts = new Map<string, { at: number; labels: Record<string, string> }>();
const events = (await docker.getEvents({ filters: { type: ['container'], event: ['start'] } })) as NodeJS.ReadableStream & { destroy(): void };
events.on('data', (chunk: Buffer) => {
  for (const line of chunk.toString().split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as { id: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
    starts.set(e.id, { at: e.timeNano / 1e6, labels: e.Actor.Attributes });
  }
});

// Outpost: one item at a time, so each measures the path alone.
const playground = new AnthropicPlayground({ leaseTtlSeconds: 30 });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('bench');
const items = Array.from({ length: count }, () => playground.enqueue(environment.id));
const worker = spawnWorker(url, environment.id, environmentKey, ['--image', image, '--max-sessions', '1']);
const deadline = Date.now() + 60_000 + count * 5_000;
while (!items.every((i) => playground.record(i.id).item.state === 'stopped')) {
  if (Date.now() > deadline) throw new Error('the worker did not finish the items in time');
  await new Promise((r) => setTimeout(r, 100));
}
await stopped(worker.proc);
await playground.close();
const outpost = items.map((i) => {
  const start = [...starts.values()].find((s) => s.labels['outpost.work_id'] === i.id);
  if (!start) throw new Error(`no start event for ${i.id}`);
  return start.at - playground.record(i.id).polledAt!;
});

// Plain docker run of the same image: from the command's start to Docker's start event.
const plain: number[] = [];
for (let i = 0; i < count; i++) {
  const name = `outpost-bench-plain-${process.pid}-${i}`;
  const t0 = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn('docker', ['run', '-d', '--name', name, '--network', 'host', '--init', image], { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('docker run failed'))));
  });
  const info = await docker.getContainer(name).inspect();
  const start = starts.get(info.Id);
  plain.push((start?.at ?? Date.parse(info.State.StartedAt)) - t0);
  await docker.getContainer(name).remove({ force: true });
}
events.destroy();

const row = (label: string, v: number[]) => `${label.padEnd(34)} p50 ${percentile(v, 50).toFixed(0).padStart(5)} ms   p95 ${percentile(v, 95).toFixed(0).padStart(5)} ms`;
console.log(`\nPoll response → container running, ${count} items`);
console.log(row('outpost (poll answered → start)', outpost));
console.log(row('docker run -d (command → start)', plain));
console.log(`ratio outpost / docker run         p50 ${(percentile(outpost, 50) / percentile(plain, 50)).toFixed(2)}     p95 ${(percentile(outpost, 95) / percentile(plain, 95)).toFixed(2)}`);
process.exit(0);
