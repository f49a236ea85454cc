/**
 * Run in a child whose /etc/resolv.conf names a slow name server (test/unit/egress-lookups.test.ts):
 * two sessions' proxies with the worker's own name lookups (no resolver injected), one session
 * flooding lookups, and how long the worker's own lookup and the other session's take meanwhile.
 * Prints one JSON line.
 */
import { lookup } from 'node:dns/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EgressPolicyRules } from '../../electron/core/egress/policy.js';
import { EgressProxy } from '../../electron/core/egress/proxy.js';

const FLOOD = 40;
const CAP_MS = 8_000;

const dir = mkdtempSync(join(tmpdir(), 'outpost-lookups-'));
const open = async (name: string, allowHosts: string[]) =>
  EgressProxy.listen({ rules: new EgressPolicyRules({ policy: 'allowlist', allowHosts }), socketPath: join(dir, `${name}.sock`), onConnection: () => {} });
const flooding = await open('flooding', ['*.flood.test']);
const other = await open('other', ['fast.test']);

/** The proxy's first answer line to a CONNECT, or `timeout` after the cap. */
function connectThrough(socketPath: string, target: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let text = '';
    const timer = setTimeout(() => (socket.destroy(), resolve('timeout')), CAP_MS);
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => (clearTimeout(timer), resolve(text)));
    socket.on('error', () => {});
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: T | 'timeout' }> {
  const at = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([work, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), CAP_MS)))]);
  clearTimeout(timer);
  return { ms: Date.now() - at, result };
}

const early: string[] = [];
for (let i = 0; i < FLOOD; i++) void connectThrough(join(dir, 'flooding.sock'), `n${i}.flood.test:443`).then((reply) => early.push(reply));
await new Promise((resolve) => setTimeout(resolve, 500));
const refusedAtOnce = early.filter((reply) => /too many name lookups/.test(reply)).length;
const worker = await timed(lookup('localhost').then((a) => a.address));
const otherSession = await timed(connectThrough(join(dir, 'other.sock'), 'fast.test:443'));
process.stdout.write(`${JSON.stringify({ workerMs: worker.ms, worker: worker.result, otherSessionMs: otherSession.ms, otherSession: otherSession.result, refusedAtOnce })}\n`);
rmSync(dir, { recursive: true, force: true });
// Lookups still queued in the flood would keep the process alive until they time out.
process.exit(0);
