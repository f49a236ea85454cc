/**
 * `npm run playground`: the Anthropic playground alone on 127.0.0.1, with one environment, to point
 * Outpost at by hand — the window's setup (API URL and key) or `outpost worker` — and queue work into
 * with curl. `npm run demo` is the same playground with queued sessions and workers already started.
 * `-- --port N` listens on N (default: a free port).
 */
import { parseArgs } from 'node:util';
import { AnthropicPlayground } from './anthropic.js';

const { values } = parseArgs({ options: { port: { type: 'string' } } });
const playground = new AnthropicPlayground({ port: Number(values.port ?? 0) });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('playground');
const queue = `curl -X POST ${url}/_playground/work -d '{"environment_id":"${environment.id}","type":"healthcheck"}'`;
console.log(`Anthropic playground: ${url}
  API key:          ${playground.apiKey}
  environment:      ${environment.id}
  environment key:  ${environmentKey}

Serve it (after npm run build):
  OUTPOST_ENVIRONMENT_KEY=${environmentKey} node dist/electron/core/cli.js worker --base-url ${url} --environment-id ${environment.id} --network host
Queue work:
  ${queue}
Ctrl-C stops it.`);
process.once('SIGINT', () => void playground.close().then(() => process.exit(0)));
