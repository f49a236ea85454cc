import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import type { ServiceEvent } from '../../shared/contract.js';
import { environmentProfileSchema } from '../../shared/contract.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { memorySecrets } from '../helpers/secrets.js';
import { startWorker, waitFor } from '../helpers/worker.js';

/** Every way a key can be written down in something the user sees. */
function formsOf(key: string): string[] {
  return [key, JSON.stringify(key).slice(1, -1), encodeURIComponent(key), Buffer.from(key).toString('base64')];
}

function assertNoForm(text: string, key: string, where: string): void {
  for (const form of formsOf(key)) assert.ok(!text.includes(form), `${where} shows the key (as ${JSON.stringify(form)}):\n${text}`);
}


/**
 * A control plane that quotes back the credential it was sent, in its 401s: the key must not
 * reach stdout, stderr, the log file, events, notices, history or a view's reply.
 */
describe('keys echoed back by a control plane are never printed', { timeout: 120_000 }, () => {
  const playground = new AnthropicPlayground({ echoCredentials: true, leaseTtlSeconds: 4 });
  // Not shaped like an Anthropic key (only registration can catch it), with a `"` and a `\` that JSON escapes.
  const wrongKey = 'outpost"wrong\\key+/0123456789';

  before(() => playground.start());
  after(() => playground.close());

  it('the CLI with a refused key, JSON log format: exit 2, the 401 said, the key in no form on stdout, stderr or outpost.log', async () => {
    const { environment } = playground.createEnvironment('echo-cli');
    const worker = startWorker({ baseUrl: playground.url, environmentId: environment.id, environmentKey: wrongKey, args: ['--log-format', 'json'] });
    assert.equal(await worker.exited, 2);
    const output = worker.output();
    assert.match(output, /401/);
    assert.match(output, /\[redacted\]/);
    assertNoForm(output, wrongKey, 'the output');
    assertNoForm(readFileSync(join(worker.dataDir, 'logs', 'outpost.log'), 'utf8'), wrongKey, 'outpost.log');
  });

  it('a key too short to redact safely is refused at input: the CLI exits 64 and says why; the contract refuses a padded one', async () => {
    const worker = startWorker({ baseUrl: playground.url, environmentId: 'env_x', environmentKey: 'short' });
    assert.equal(await worker.exited, 64);
    assert.match(worker.output(), /OUTPOST_ENVIRONMENT_KEY is too short to be a key/);
    const outpost = Outpost.open({ dataDir: mkdtempSync(join(tmpdir(), 'outpost-short-')), secrets: memorySecrets(), logger: silentLogger });
    try {
      const reply = await outpost.handle('keys.set', { kind: 'environment-key', environmentId: 'env_x', value: '   abc      ' });
      assert.ok('error' in reply && /does not look like a key/.test(reply.error.message));
    } finally {
      await outpost.dispose();
    }
  });

  it('events, notices, history and replies: the worker stopped by a refused key, an item failed by a 401 that quotes its token', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'outpost-redaction-'));
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir, secrets, logger: silentLogger, prepare: async () => {} });
    const events: ServiceEvent[] = [];
    outpost.events.on((e) => events.push(e));
    try {
      // An item whose every heartbeat is refused with a 401 quoting the item's own sessions token.
      const { environment, environmentKey } = playground.createEnvironment('echo-item');
      await secrets.set({ kind: 'environment-key', environmentId: environment.id }, environmentKey, playground.url);
      const { work } = playground.createSession(environment.id, { calls: [] });
      playground.addFault({ route: 'work.heartbeat', count: 1000, status: 401 });
      await outpost.serve(environmentProfileSchema.parse({ environmentId: environment.id, baseUrl: playground.url, networkMode: 'host', graceSeconds: 1 }));
      await waitFor('the item ended', () => outpost.history.list().some((h) => h.workId === work.id), 30_000);
      const token = playground.record(work.id).sessionsToken;
      const ended = outpost.history.list().find((h) => h.workId === work.id)!;
      assert.match(ended.reason ?? '', /401/, 'the user still learns why');
      await outpost.stopWorker('now');
      playground.clearFaults();

      // The worker stopped for good by a refused key that the 401 quotes.
      await secrets.set({ kind: 'environment-key', environmentId: environment.id }, wrongKey, playground.url);
      await outpost.startWorker();
      await outpost.workerDone;
      await waitFor('the error notice', () => events.some((e) => e.name === 'notice' && e.payload.level === 'error'));

      const shown = JSON.stringify(events);
      assert.match(shown, /\[redacted\]/);
      const replies = JSON.stringify(await Promise.all(['worker.state', 'history.list', 'items.list'].map((c) => outpost.handle(c, {}))));
      for (const [what, text] of [
        ['an event', shown],
        ['a reply', replies],
        ['history.jsonl', readFileSync(join(dataDir, 'history.jsonl'), 'utf8')],
      ] as const) {
        assertNoForm(text, token, what);
        assertNoForm(text, wrongKey, what);
      }
    } finally {
      await outpost.dispose();
    }
  });
});
