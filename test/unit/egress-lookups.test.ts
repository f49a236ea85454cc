import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { EgressPolicyRules } from '../../electron/core/egress/policy.js';
import { EgressProxy, type Resolver } from '../../electron/core/egress/proxy.js';
import { startSlowDns } from '../helpers/slow-dns.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The proxy's whole answer to a CONNECT (it closes the connection after a refusal or a failure). */
function connectThrough(socketPath: string, target: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', () => {});
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  });
}

describe('name lookups: one session cannot starve the worker’s or another session’s', () => {
  it('a session’s lookups run two at a time; a flood waits or is refused in words, and another session’s lookups go on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-lookups-'));
    let inFlight = 0;
    let maxInFlight = 0;
    const slowResolve: Resolver = async () => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      inFlight--;
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const flooding = await EgressProxy.listen({ rules: new EgressPolicyRules({ policy: 'allowlist', allowHosts: ['*.flood.test'] }), socketPath: join(dir, 'a.sock'), resolve: slowResolve, connectTimeoutMs: 5_000, onConnection: () => {} });
    const other = await EgressProxy.listen({
      rules: new EgressPolicyRules({ policy: 'allowlist', allowHosts: ['fast.test'] }),
      socketPath: join(dir, 'b.sock'),
      resolve: async () => ['127.0.0.2'],
      onConnection: () => {},
    });
    try {
      const replies = Array.from({ length: 60 }, (_, i) => connectThrough(join(dir, 'a.sock'), `n${i}.flood.test:443`));
      const at = Date.now();
      const reply = await connectThrough(join(dir, 'b.sock'), 'fast.test:443');
      assert.match(reply, /internal address 127\.0\.0\.2/, 'the other session’s name was looked up');
      assert.ok(Date.now() - at < 1_000, `the other session waited ${Date.now() - at} ms`);
      const all = await Promise.all(replies);
      assert.equal(maxInFlight, 2, 'lookups of one session at the same time');
      assert.ok(all.some((r) => /502[\s\S]*too many name lookups at once in this session/.test(r)), 'a full queue is refused in words');
      assert.ok(all.some((r) => /502[\s\S]*ENOTFOUND/.test(r)), 'the ones that ran were answered');
    } finally {
      await flooding.close();
      await other.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // A private mount namespace gives the child its own /etc/resolv.conf: only root, where the kernel lets it, can make one.
  const privateMounts = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;
  it('with the system’s own (slow) name server, a flood of lookups leaves the worker’s own dns.lookup and another session fast', { skip: !privateMounts && 'needs root and unshare -m (a private /etc/resolv.conf)' }, async () => {
    const dns = await startSlowDns({ address: '127.0.0.77', port: 53, slowSuffix: '.flood.test', delayMs: 2_000, answer: '127.0.0.2' });
    const dir = mkdtempSync(join(tmpdir(), 'outpost-resolv-'));
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.77\noptions timeout:5 attempts:1\n');
    try {
      const script = `mount --bind "$1" /etc/resolv.conf && exec node --import tsx test/helpers/lookup-flood.ts`;
      const child = spawn('unshare', ['-m', 'sh', '-c', script, 'sh', resolvConf], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, err);
      const result = JSON.parse(out.trim()) as { workerMs: number; worker: string; otherSessionMs: number; otherSession: string; refusedAtOnce: number };
      // A clear contrast, not a fine timing: with the proxy's lookups on libuv's four threads this took 15 s and more.
      assert.ok(result.workerMs < 1_000, `the worker's own lookup of localhost took ${result.workerMs} ms`);
      assert.equal(result.worker, '127.0.0.1');
      assert.match(result.otherSession, /internal address 127\.0\.0\.2/, 'the other session’s name was looked up');
      assert.ok(result.otherSessionMs < 1_000, `the other session's lookup took ${result.otherSessionMs} ms`);
      assert.ok(result.refusedAtOnce > 0, 'the flood beyond the queue is refused at once');
      assert.ok(dns.maxSlowInFlight() <= 2, `the flooding session had ${dns.maxSlowInFlight()} names being looked up at once`);
    } finally {
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
