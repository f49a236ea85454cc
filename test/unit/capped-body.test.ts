import Anthropic from '@anthropic-ai/sdk';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cappedFetch, readCapped, ResponseTooLargeError } from '../../electron/core/providers/capped-body.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { AnthropicProvider } from '../../electron/core/providers/anthropic/provider.js';
import { Secret } from '../../electron/core/secrets/secret.js';

const MiB = 2 ** 20;

describe('a control plane’s answer is read up to a cap: a 50 MB poll body would otherwise grow the worker by hundreds of MiB', () => {
  let server: Server;
  let base: string;
  let sent = 0;

  before(async () => {
    server = createServer((req, res) => {
      const json = req.url!.includes('json');
      res.writeHead(200, { 'content-type': 'application/json', ...(req.url!.includes('declared') ? { 'content-length': String(50 * MiB) } : {}) });
      if (req.url!.includes('small')) return res.end('{"id":"work_1"}');
      // 50 MiB of JSON string, streamed (the server never holds it whole), as a hostile control plane would.
      const piece = Buffer.alloc(64 * 1024, 'a');
      let left = 50 * MiB;
      res.write(json ? '{"data":"' : '');
      left -= json ? 9 : 0;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(piece.length, left);
          left -= n;
          sent += n;
          if (!res.write(piece.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => (left = 0));
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('reads a body under the cap whole', async () => {
    const body = await readCapped(await fetch(`${base}/small`), MiB);
    assert.equal(body.toString(), '{"id":"work_1"}');
  });

  it('refuses a 50 MB body (streamed, no length) after the cap, stops reading it, and holds no more than the cap', async () => {
    sent = 0;
    global.gc?.();
    const rss = process.memoryUsage().rss;
    await assert.rejects(readCapped(await fetch(`${base}/stream`), MiB), (e: Error) => {
      assert.ok(e instanceof ResponseTooLargeError);
      assert.match(e.message, /answered with more than 1 MiB; the rest was not read/);
      return true;
    });
    const grown = (process.memoryUsage().rss - rss) / MiB;
    assert.ok(grown < 30, `RSS grew ${grown.toFixed(0)} MiB`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(sent < 20 * MiB, `the server sent ${(sent / MiB).toFixed(0)} MiB before the connection closed`);
  });

  it('refuses a body whose declared length passes the cap before reading any of it', async () => {
    await assert.rejects(readCapped(await fetch(`${base}/declared`), MiB), ResponseTooLargeError);
  });

  it('as the Anthropic SDK’s fetch: a 50 MB JSON answer fails with the cap’s words, a small one parses', async () => {
    const client = new Anthropic({ baseURL: base, apiKey: 'k', maxRetries: 0, fetch: cappedFetch(MiB) });
    assert.deepEqual(await client.get('/small'), { id: 'work_1' });
    await assert.rejects(client.get('/json'), /more than 1 MiB/);
  });

  it('the Anthropic worker’s poll refuses a 50 MiB answer with the cap’s words, holding none of it', async () => {
    const provider = new AnthropicProvider({ baseURL: `${base}/json`, environmentId: 'env_1', environmentKey: new Secret('sk-ant-env-test-0123456789'), workerId: 'w', logger: silentLogger });
    const before = process.memoryUsage().rss;
    const error = await provider.poll(AbortSignal.timeout(10_000)).then(() => null, (e: unknown) => e);
    assert.ok(error, 'the poll failed');
    assert.match(provider.describe(error), /more than 1 MiB; the rest was not read/);
    assert.ok(process.memoryUsage().rss - before < 30 * MiB, 'the body was not held');
  });
});
