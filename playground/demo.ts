/**
 * `npm run demo`: the whole loop on this machine, no account needed. Starts both
 * playgrounds on 127.0.0.1 — Anthropic's with a few queued sessions and a healthcheck,
 * AINative Bridge's with two scripts — and a real headless worker against each; every
 * item runs in its own container. `--once` exits when both queues have drained.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnthropicPlayground } from './anthropic.js';
import { BridgePlayground } from './bridge.js';
import { openInBrowser } from './open-in-browser.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const once = process.argv.includes('--once');
const image = process.env['OUTPOST_DEMO_IMAGE'] ?? 'outpost-session:latest';

const playground = new AnthropicPlayground({ leaseTtlSeconds: 10 });
const url = await playground.start();
const { environment, environmentKey } = playground.createEnvironment('demo-laptop');
// Three scripted sessions whose agent makes real tool calls, answered inside their containers.
const sessions = [
  [
    { name: 'bash', input: { command: 'uname -sm && node --version' } },
    { name: 'write', input: { file_path: '/workspace/hello.py', content: 'print("hello from the sandbox")\n' } },
    { name: 'read', input: { file_path: '/workspace/hello.py' } },
  ],
  [
    { name: 'write', input: { file_path: '/workspace/notes.md', content: '# Plan\n- [ ] try Outpost\n' } },
    { name: 'edit', input: { file_path: '/workspace/notes.md', old_string: '- [ ]', new_string: '- [x]' } },
    { name: 'grep', input: { pattern: 'Outpost' } },
  ],
  [
    { name: 'bash', input: { command: 'for i in 1 2 3; do echo "working $i" | tee -a progress.log; sleep 1; done' } },
    { name: 'glob', input: { pattern: '**/*.log' } },
    // The egress policy at work: refused by the proxy before any lookup, so nothing leaves this machine.
    { name: 'bash', input: { command: `node -e 'fetch("https://example.com").then(() => console.log("reached example.com"), () => console.log("example.com: refused by the egress policy"))' 2>/dev/null` } },
  ],
].map((calls) => playground.createSession(environment.id, { calls }));
const items = [...sessions.map((s) => s.work), playground.enqueue(environment.id, { type: 'healthcheck' })];
const dataDir = process.env['OUTPOST_DATA_DIR'] ?? mkdtempSync(join(tmpdir(), 'outpost-demo-'));

console.log(`\nPlayground control plane: ${url}  (environment ${environment.id}, ${items.length} items queued)`);
console.log(`Worker data folder:       ${dataDir}  (session logs in logs/sessions/)\n`);

// AINative Bridge: code_execution scripts, run by sh in a small local image.
const bridge = new BridgePlayground({ pollIntervalMs: 1000 });
const bridgeUrl = await bridge.start();
const bridgeEnv = bridge.createEnvironment('byoc');
const scripts = [
  bridge.enqueue(bridgeEnv.environment_id, 'code_execution', { script: 'echo "2 + 3 = $((2 + 3))"\n' }),
  bridge.enqueue(bridgeEnv.environment_id, 'code_execution', { script: 'echo "checking the sandbox"; ls /workspace; exit 3\n' }),
];
console.log(`Bridge playground:        ${bridgeUrl}  (environment ${bridgeEnv.environment_id}, ${scripts.length} scripts queued)\n`);

const cli = join(root, 'dist/electron/core/cli.js');
// Loopback only (DESIGN §3): the sessions reach the playground, their API, through Outpost's egress proxy (--egress api:
// the API and nothing else); the Bridge scripts need no network at all (--egress none).
const common = ['--data-dir', dataDir, '--drain-seconds', '5'];
const workers = [
  // The Anthropic worker also serves Outpost's window as a dashboard; the playground's API key lets it list environments.
  spawn(process.execPath, [cli, 'worker', '--dashboard', '--base-url', url, '--environment-id', environment.id, '--max-sessions', '2', '--image', image, '--egress', 'api', ...common], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: environmentKey, OUTPOST_API_KEY: playground.apiKey },
  }),
  spawn(
    process.execPath,
    [cli, 'worker', '--provider', 'ainative', '--base-url', bridgeUrl, '--environment-id', bridgeEnv.environment_id, '--image', 'outpost-test-base', '--interpreter', 'sh', '--egress', 'none', ...common],
    { stdio: 'inherit', env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: bridge.token } },
  ),
];

workers[0]!.stdout!.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  const dashboard = /Dashboard: (http:\S+)/.exec(chunk.toString())?.[1];
  if (dashboard) {
    // The token is in the address's #fragment: never sent to a server; the page keeps it in memory only.
    console.log(`\nOpen Outpost's window in a browser: ${dashboard}\n(a reload loses the token, which lives only in the page: open this address again)\n`);
    // Through a private page: the address in the opener's argv would show the token to every local user.
    if (!once) openInBrowser(dashboard);
  }
});

let stopping = false;
const stop = () => {
  stopping = true;
  for (const w of workers) w.kill('SIGINT');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const poll = setInterval(() => {
  const done = items.every((i) => playground.record(i.id).item.state === 'stopped') && scripts.every((w) => w.state === 'acknowledged' || w.state === 'stopped');
  if (!done || stopping) return;
  clearInterval(poll);
  console.log('\nAll queued items have run. Their histories at the playground:');
  for (const i of items) {
    const rec = playground.record(i.id);
    console.log(`  ${i.id}  ${i.data.type.padEnd(11)} ${rec.history.join(' → ')}  (${rec.heartbeats} heartbeats)`);
  }
  console.log("\nWhat the sessions' tool calls answered:");
  for (const { sessionId } of sessions) {
    for (const r of playground.sessions.results(sessionId)) {
      console.log(`  ${sessionId.slice(0, 16)}…  ${r.name.padEnd(5)} ${r.isError ? 'error' : 'ok   '} ${r.text.trim().split('\n').join(' ⏎ ').slice(0, 70)}`);
    }
  }
  console.log('\nWhat the Bridge scripts reported:');
  for (const w of scripts) {
    const r = w.result ?? {};
    console.log(`  ${w.work_id}  ${w.state}  exit ${String(r['exit_code'])}  stdout: ${String(r['stdout'] ?? '').trim().split('\n').join(' ⏎ ')}`);
  }
  if (once) stop();
  else console.log(`\nThe workers keep polling. Queue more: curl -X POST ${url}/_playground/work -d '{"environment_id":"${environment.id}"}'\nPress Ctrl-C to stop.\n`);
}, 250);

const codes = await Promise.all(workers.map((w) => new Promise<number | null>((resolve) => w.on('exit', resolve))));
clearInterval(poll);
await Promise.all([playground.close(), bridge.close()]);
process.exit(codes.every((c) => c === 0) ? 0 : 1);
