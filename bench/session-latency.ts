/**
 * Claim → first tool result for a scripted session: Outpost (a container per session,
 * the runner inside) beside the SDK's own EnvironmentWorker serving the same sessions
 * in-process, in the same run. Both ends come from the playground's records.
 * Usage: tsx bench/session-latency.ts [--sessions 20]
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground } from '../playground/anthropic.js';
import { percentile, spawnWorker, stopped } from './support.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '20' } } });
const count = Number(values.sessions);
const script = { calls: [{ name: 'bash', input: { command: 'echo first' } }] };

const playground = new AnthropicPlayground({ leaseTtlSeconds: 30 });
const url = await playground.start();

async function served(environmentId: string): Promise<number[]> {
  const sessions = Array.from({ length: count }, () => playground.createSession(environmentId, script));
  const deadline = Date.now() + 120_000 + count * 5_000;
  while (!sessions.every((s) => playground.record(s.work.id).item.state === 'stopped')) {
    if (Date.now() > deadline) throw new Error('sessions did not finish in time');
    await new Promise((r) => setTimeout(r, 50));
  }
  return sessions.map((s) => {
    const first = playground.sessions.results(s.sessionId)[0];
    if (!first) throw new Error(`session ${s.sessionId} got no tool result`);
    return first.at - playground.record(s.work.id).polledAt!;
  });
}

// Outpost, one session at a time so each measures the path alone.
const outpostEnv = playground.createEnvironment('bench-outpost');
const worker = spawnWorker(url, outpostEnv.environment.id, outpostEnv.environmentKey, ['--max-sessions', '1']);
const outpost = await served(outpostEnv.environment.id);
await stopped(worker.proc);

// The SDK's EnvironmentWorker, in this process (it serves one item at a time too).
const sdkEnv = playground.createEnvironment('bench-sdk');
const ctrl = new AbortController();
const sdkRun = new Anthropic({ baseURL: url, apiKey: null, logLevel: 'off' }).beta.environments.work
  .worker({ environmentId: sdkEnv.environment.id, environmentKey: sdkEnv.environmentKey, workdir: mkdtempSync(join(tmpdir(), 'outpost-bench-sdk-')) })
  .run(ctrl.signal)
  .catch(() => {});
const sdk = await served(sdkEnv.environment.id);
ctrl.abort();
await sdkRun;
await playground.close();

const row = (label: string, v: number[]) => `${label.padEnd(40)} p50 ${percentile(v, 50).toFixed(0).padStart(5)} ms   p95 ${percentile(v, 95).toFixed(0).padStart(5)} ms`;
console.log(`\nClaim (poll answered) → first tool result, ${count} sessions each`);
console.log(row('outpost (container + runner)', outpost));
console.log(row('SDK EnvironmentWorker (in-process)', sdk));
console.log(`ratio outpost / SDK                      p50 ${(percentile(outpost, 50) / percentile(sdk, 50)).toFixed(1)}      p95 ${(percentile(outpost, 95) / percentile(sdk, 95)).toFixed(1)}`);
const docker = new Docker();
for (const tag of ['outpost-session:latest']) {
  const info = await docker.getImage(tag).inspect().catch(() => undefined);
  console.log(`image ${tag}: ${info ? `${(info.Size / 1e6).toFixed(0)} MB` : 'not built'}`);
}
process.exit(0);
