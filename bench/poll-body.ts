/**
 * What a 50 MiB answer to a poll costs the worker's memory through the Anthropic SDK, with its default
 * fetch and with cappedFetch (read whole, a 50 MB poll body grows RSS by hundreds of MiB).
 *
 *   npx tsx bench/poll-body.ts            # the SDK as it is
 *   npx tsx bench/poll-body.ts capped     # with cappedFetch(1 MiB) as its fetch
 */
import Anthropic from '@anthropic-ai/sdk';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cappedFetch } from '../electron/core/providers/capped-body.js';
const MiB = 2 ** 20;
let sent = 0;
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"data":"');
  const piece = Buffer.alloc(64 * 1024, 'a');
  let left = 50 * MiB;
  const pump = () => { while (left > 0) { left -= piece.length; sent += piece.length; if (!res.write(piece)) return void res.once('drain', pump); } res.end('"}'); };
  res.on('close', () => (left = 0));
  pump();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const capped = process.argv[2] === 'capped';
const client = new Anthropic({ baseURL: base, apiKey: 'k', maxRetries: 0, ...(capped ? { fetch: cappedFetch(MiB) } : {}) });
const before = process.memoryUsage().rss;
let peak = before;
const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
const result = await client.get('/poll').then(() => 'parsed', (e: Error) => e.message);
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(t);
await new Promise((r) => setTimeout(r, 100));
console.log(`${capped ? 'cappedFetch(1 MiB)' : 'SDK default fetch'}: ${String(result).slice(0, 90)}; RSS ${(before / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB; server sent ${(sent / MiB).toFixed(1)} MiB`);
server.close();
