/**
 * The egress proxy's cost: a 100 MB download and 1,000 small requests, each on a new
 * connection as HTTPS clients make them (CONNECT, then the request), through the proxy beside a
 * direct connection, all on loopback (DESIGN §3). Two views, one run:
 *  - host: a client process straight to the server, or through the proxy's unix socket;
 *  - session: a container on the host network straight to the server, or a container in a session's
 *    place (the forwarder sidecar's namespace) through 127.0.0.1:3128 → sidecar → socket → proxy.
 * Goal: ≤ 10 % throughput and ≤ 1 ms p50 per request. The download is also timed at a gigabit link's
 * rate (125 MB/s): loopback's rate is two processes copying memory, which no download from the internet reaches.
 *
 *   npx tsx bench/egress.ts
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { EgressPolicyRules } from '../electron/core/egress/policy.js';
import { EgressProxy } from '../electron/core/egress/proxy.js';
import { openSessionEgress } from '../electron/core/runtime/session-egress.js';
import { FORWARDER_IMAGE } from '../electron/core/runtime/egress-sidecar.js';
import { sessionUser } from '../electron/core/runtime/workspace.js';
import { useWorkerV8Flags } from '../electron/core/cli/worker-v8.js';

const MB = 100;
const REQUESTS = 1_000;
const DOWNLOADS = 5;

/** A gigabit link's rate, for /paced: a download from the internet rather than loopback's memory copy. */
const LINK_BYTES_PER_SECOND = 125_000_000;

/** The far end: 100 MiB on /big as fast as loopback goes, the same on /paced at a gigabit link's rate, two bytes on /small. */
const SERVER = `
const http = require('node:http');
const chunk = Buffer.alloc(1 << 20, 120);
http.createServer((req, res) => {
  if (req.url !== '/big' && req.url !== '/paced') return res.end('ok');
  res.writeHead(200, { 'content-length': ${MB} * chunk.length });
  let left = ${MB} * chunk.length;
  const started = performance.now();
  const more = () => {
    while (left > 0) {
      const sent = ${MB} * chunk.length - left;
      const allowed = req.url === '/big' ? left : Math.min(left, Math.floor(((performance.now() - started) / 1000) * ${LINK_BYTES_PER_SECOND}) - sent);
      if (allowed <= 0) return setTimeout(more, 2);
      const n = Math.min(allowed, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return res.once('drain', more);
    }
    res.end();
  };
  more();
}).listen(0, '127.0.0.2', function () { console.log(this.address().port); });
`;

/** The client, the same on the host and in a container: argv = direct|proxy, net.connect options (JSON), host:port. */
const CLIENT = `
const net = require('node:net'), http = require('node:http');
const [mode, via, target] = process.argv.slice(1);
function open() {
  return new Promise((resolve, reject) => {
    const s = net.connect(JSON.parse(via));
    s.setNoDelay(true);
    s.once('error', reject);
    if (mode === 'direct') return s.once('connect', () => resolve(s));
    s.once('connect', () => s.write('CONNECT ' + target + ' HTTP/1.1\\r\\nHost: ' + target + '\\r\\n\\r\\n'));
    let head = '';
    const onData = (d) => {
      head += d.toString('latin1');
      if (!head.includes('\\r\\n\\r\\n')) return;
      s.off('data', onData);
      head.startsWith('HTTP/1.1 200') ? resolve(s) : reject(new Error(head));
    };
    s.on('data', onData);
  });
}
async function get(path) {
  const s = await open();
  return new Promise((resolve, reject) => {
    const req = http.request({ createConnection: () => s, path, headers: { host: target, connection: 'close' } }, (r) => {
      let n = 0;
      r.on('data', (c) => (n += c.length)).on('end', () => resolve(n));
    });
    req.on('error', reject).end();
  });
}
(async () => {
  for (let i = 0; i < 50; i++) await get('/small');
  // The median of ${DOWNLOADS} downloads: one alone is at the mercy of whatever else the machine runs.
  async function download(path) {
    const times = [];
    let bytes = 0;
    for (let i = 0; i < ${DOWNLOADS}; i++) {
      const t0 = performance.now();
      bytes = await get(path);
      times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    return { bytes, seconds: times[Math.floor(times.length / 2)] };
  }
  const { bytes, seconds } = await download('/big');
  const paced = await download('/paced');
  if (paced.bytes !== bytes) throw new Error('a paced download came short: ' + paced.bytes);
  const ms = [];
  for (let i = 0; i < ${REQUESTS}; i++) { const a = performance.now(); await get('/small'); ms.push(performance.now() - a); }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ bytes, seconds, pacedSeconds: paced.seconds, p50: ms[${REQUESTS} / 2], p95: ms[${REQUESTS} * 0.95] }));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;

interface Figures {
  bytes: number;
  seconds: number;
  pacedSeconds: number;
  p50: number;
  p95: number;
}

function child(script: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (args.length === 0 && out.includes('\n')) resolve(out.trim());
    });
    proc.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}`))));
    if (args.length === 0) process.once('exit', () => proc.kill());
  });
}

async function inContainer(docker: Docker, networkMode: string, args: string[]): Promise<Figures> {
  const container = await docker.createContainer({
    Image: FORWARDER_IMAGE,
    Entrypoint: ['/usr/local/bin/node', '-e', CLIENT],
    Cmd: args,
    Labels: { 'outpost.bench': 'egress' },
    HostConfig: { NetworkMode: networkMode, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = demux(await container.logs({ stdout: true, stderr: true }));
    if (StatusCode !== 0) throw new Error(`the bench container failed: ${logs}`);
    const json = /\{"bytes".*\}/.exec(logs)?.[0];
    if (!json) throw new Error(`the bench container printed no figures: ${logs.slice(0, 500)}`);
    return JSON.parse(json) as Figures;
  } finally {
    await container.remove({ force: true });
  }
}

/** Docker's log of a container with no terminal: frames of an 8-byte header (stream, 0, 0, 0, length) and their bytes. */
function demux(raw: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= raw.length; at += 8 + raw.readUInt32BE(at + 4)) parts.push(raw.subarray(at + 8, at + 8 + raw.readUInt32BE(at + 4)));
  return Buffer.concat(parts).toString('utf8');
}

function line(name: string, f: Figures): string {
  const rate = (seconds: number) => (f.bytes / 2 ** 20 / seconds).toFixed(0).padStart(6);
  return `${name.padEnd(34)} ${rate(f.seconds)} MiB/s   at a gigabit link's rate ${rate(f.pacedSeconds)} MiB/s   p50 ${f.p50.toFixed(3)} ms   p95 ${f.p95.toFixed(3)} ms`;
}

function cost(direct: Figures, proxied: Figures): string {
  const percent = (a: number, b: number) => `${((1 - a / b) * 100).toFixed(1)} %`;
  return `  cost: throughput ${percent(direct.seconds, proxied.seconds)} on loopback (goal ≤ 10 %), ${percent(direct.pacedSeconds, proxied.pacedSeconds)} at a gigabit link's rate; p50 +${(proxied.p50 - direct.p50).toFixed(3)} ms per request (goal ≤ 1 ms)`;
}

async function main(): Promise<void> {
  // The proxy runs in the worker's process: time it under the worker's V8 settings.
  useWorkerV8Flags();
  const port = Number(await child(SERVER, []));
  const target = `bench.test:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-bench-egress-'));
  const rules = new EgressPolicyRules({ policy: 'allowlist', allowHosts: [target, '127.0.0.2'] });
  const resolve = async () => ['127.0.0.2'];
  const proxy = await EgressProxy.listen({ rules, socketPath: join(dir, 'host.sock'), resolve, onConnection: () => {} });
  const docker = new Docker();
  console.log(`egress bench: a ${MB} MiB download (median of ${DOWNLOADS}) as fast as loopback goes and at a gigabit link's rate, then ${REQUESTS} requests each on a new connection; loopback only`);
  try {
    const hostDirect = JSON.parse(await child(CLIENT, ['direct', JSON.stringify({ host: '127.0.0.2', port }), target])) as Figures;
    const hostProxied = JSON.parse(await child(CLIENT, ['proxy', JSON.stringify({ path: join(dir, 'host.sock') }), target])) as Figures;
    console.log(line('host: direct', hostDirect));
    console.log(line('host: through the proxy', hostProxied));
    console.log(cost(hostDirect, hostProxied));

    const egress = await openSessionEgress({
      settings: { policy: 'allowlist', allowHosts: [target, '127.0.0.2'], resolve },
      openNetworkMode: 'none',
      docker,
      name: `outpost-bench-egress-${process.pid}`,
      labels: { 'outpost.bench': 'egress' },
      user: sessionUser(false),
      workId: 'bench',
      logFile: join(dir, 'session.log'),
      recordFile: join(dir, 'session.egress.jsonl'),
    });
    try {
      const sessionDirect = await inContainer(docker, 'host', ['direct', JSON.stringify({ host: '127.0.0.2', port }), target]);
      const sessionProxied = await inContainer(docker, egress.networkMode, ['proxy', JSON.stringify({ host: '127.0.0.1', port: 3128 }), target]);
      console.log(line('session: host network, direct', sessionDirect));
      console.log(line('session: sidecar + proxy', sessionProxied));
      console.log(cost(sessionDirect, sessionProxied));
    } finally {
      await egress.close();
    }
  } finally {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

void main();
