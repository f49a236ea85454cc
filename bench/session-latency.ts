/**
 * Claim → first tool result for a scripted session: Outpost cold (--warm 0: a container created
 * and started per session), Outpost warm (--warm 1: the session handed to a runner already waiting)
 * and the SDK's own EnvironmentWorker serving the same sessions in-process, in the same run. Outpost
 * runs on the default policy users get (`allowlist`: the session and its egress sidecar, the runner's
 * calls through the worker's proxy over the sidecar's attach stream), and on `open` beside it. Every
 * time comes from the playground's records: when the poll answered, and when each request of the
 * item arrived (ack, first heartbeat, the runner's session retrieve, its event stream, the result).
 * Sessions come one at a time, a second apart, so each measures the path alone (a pool refilled),
 * after one uncounted session each.
 * Usage: tsx bench/session-latency.ts [--sessions 20] [--raw]   (--raw: every session's steps too)
 */
import Anthropic from '@anthropic-ai/sdk';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { AnthropicPlayground, type RouteName } from '../playground/anthropic.js';
import { buildHandoverImage } from '../test/helpers/docker.js';
import { percentile, spawnWorker, stopped } from './support.js';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '20' }, raw: { type: 'boolean', default: false } } });
const count = Number(values.sessions);
const script = { calls: [{ name: 'bash', input: { command: 'echo first' } }] };
// This checkout's runner in Outpost's session image, labelled for warm starts (the shared tag may be older).
const image = await buildHandoverImage('outpost-bench-warm-session');

const playground = new AnthropicPlayground({ leaseTtlSeconds: 30, recordArrivals: true });
const url = await playground.start();

/** Milliseconds after the poll answered: each step, and the first tool result. */
type Steps = Record<(typeof STEPS)[number], number>;
const STEPS = ['ack', 'first heartbeat', 'session retrieved', 'stream opened', 'first tool result'] as const;

async function served(environmentId: string): Promise<Steps[]> {
  const steps: Steps[] = [];
  // One session first, not counted, for each of the three: a worker just started (Outpost's pool still
  // filling, the SDK's code not yet run once) measures its start, not its sessions.
  for (let i = -1; i < count; i++) {
    const { sessionId, work } = playground.createSession(environmentId, script);
    const deadline = Date.now() + 60_000;
    while (playground.record(work.id).item.state !== 'stopped') {
      if (Date.now() > deadline) throw new Error(`session ${sessionId} did not finish in time`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const polledAt = playground.record(work.id).polledAt!;
    const first = playground.sessions.results(sessionId)[0];
    if (!first) throw new Error(`session ${sessionId} got no tool result`);
    const arrival = (route: RouteName, id: string) => (playground.arrivals.find((a) => a.route === route && a.path.includes(id) && a.at >= polledAt)?.at ?? NaN) - polledAt;
    if (i >= 0) steps.push({
      ack: arrival('work.ack', work.id),
      'first heartbeat': arrival('work.heartbeat', work.id),
      'session retrieved': arrival('sessions.retrieve', sessionId),
      'stream opened': arrival('sessions.events.stream', sessionId),
      'first tool result': first.at - polledAt,
    });
    // The next session comes a second later: time for a pool to refill, as between real sessions.
    await new Promise((r) => setTimeout(r, 1_000));
  }
  return steps;
}

async function outpost(warm: number, egress: 'allowlist' | 'open'): Promise<Steps[]> {
  const env = playground.createEnvironment(`bench-outpost-${egress}-warm-${warm}`);
  const policy = egress === 'open' ? ['--network', 'host'] : ['--egress', egress];
  const worker = spawnWorker(url, env.environment.id, env.environmentKey, ['--max-sessions', '1', '--warm', String(warm), '--image', image, ...policy]);
  try {
    return await served(env.environment.id);
  } finally {
    await stopped(worker.proc);
  }
}

const cold = await outpost(0, 'allowlist');
const warm = await outpost(1, 'allowlist');
const openCold = await outpost(0, 'open');
const openWarm = await outpost(1, 'open');

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

const p = (v: number[], q: number) => percentile(v.filter(Number.isFinite), q);
const total = (s: Steps[]) => s.map((x) => x['first tool result']);
const row = (label: string, v: number[]) => `${label.padEnd(38)} p50 ${p(v, 50).toFixed(0).padStart(5)} ms   p95 ${p(v, 95).toFixed(0).padStart(5)} ms`;
const ratio = (a: number[], b: number[]) => `p50 ${(p(a, 50) / p(b, 50)).toFixed(1)}×   p95 ${(p(a, 95) / p(b, 95)).toFixed(1)}×`;
console.log(`\nClaim (poll answered) → first tool result, ${count} sessions each, one at a time`);
console.log(row('outpost cold, allowlist (default)', total(cold)));
console.log(row('outpost warm, allowlist (default)', total(warm)));
console.log(row('outpost cold, open', total(openCold)));
console.log(row('outpost warm, open', total(openWarm)));
console.log(row('SDK EnvironmentWorker (in-process)', total(sdk)));
console.log(`ratio warm allowlist / SDK             ${ratio(total(warm), total(sdk))}`);
console.log(`ratio cold allowlist / SDK             ${ratio(total(cold), total(sdk))}`);
console.log(`ratio cold with sidecar / without      ${ratio(total(cold), total(openCold))}`);
console.log(`ratio warm open / SDK                  ${ratio(total(openWarm), total(sdk))}`);
console.log('\nWhere the time goes (p50 ms after the poll answered, when each request arrived)');
const columns = [['cold', cold], ['warm', warm], ['cold open', openCold], ['warm open', openWarm], ['SDK', sdk]] as const;
console.log(`${''.padEnd(22)}${columns.map(([h]) => h.padStart(10)).join('')}`);
for (const step of STEPS) console.log(`${step.padEnd(22)}${columns.map(([, s]) => p(s.map((x) => x[step]), 50).toFixed(0).padStart(10)).join('')}`);
if (values.raw) for (const [label, steps] of columns) console.log(`${label}: ${steps.map((x) => STEPS.map((k) => x[k].toFixed(0)).join('/')).join('  ')}`);
const info = await new Docker().getImage(image).inspect().catch(() => undefined);
console.log(`\nimage ${image}: ${info ? `${(info.Size / 1e6).toFixed(0)} MB` : 'not built'}`);
process.exit(0);
