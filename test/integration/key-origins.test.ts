import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AnthropicPlayground } from '../../playground/anthropic.js';
import { silentLogger } from '../../electron/core/logs/log.js';
import { Outpost } from '../../electron/core/outpost.js';
import { KeytarSecretStore } from '../../electron/core/secrets/keytar-store.js';
import { memorySecrets } from '../helpers/secrets.js';
import { startWorker } from '../helpers/worker.js';

/**
 * A window (or anything that reaches settings.update) points a URL elsewhere: the keys kept
 * for the old origin are never sent to the new one, and the user is told to enter them again.
 * `elsewhere` is a second control plane on 127.0.0.1 that counts every request it gets.
 */
describe('keys travel one way: each only to the origin it was verified with or set for', { timeout: 60_000 }, () => {
  const home = new AnthropicPlayground();
  const elsewhere = new AnthropicPlayground();
  const opened: Outpost[] = [];
  before(async () => {
    await home.start();
    await elsewhere.start();
  });
  after(async () => {
    for (const o of opened) await o.dispose();
    await home.close();
    await elsewhere.close();
  });
  const requestsElsewhere = () => Object.values(elsewhere.requests).reduce((a, b) => a + (b ?? 0), 0);
  const open = () => {
    const secrets = memorySecrets();
    const outpost = Outpost.open({ dataDir: mkdtempSync(join(tmpdir(), 'outpost-origins-')), secrets, logger: silentLogger, prepare: async () => {} });
    opened.push(outpost);
    return { outpost, secrets };
  };

  it('the API key, verified at one URL, is refused for another: a clear word, and not one request there', async () => {
    const { outpost } = open();
    assert.deepEqual(await outpost.handle('account.connect', { apiKey: home.apiKey, apiBaseUrl: home.url }), { result: null });
    assert.ok('result' in (await outpost.handle('environments.list', {})));
    assert.ok('result' in (await outpost.handle('settings.update', { apiBaseUrl: elsewhere.url })));
    const reply = await outpost.handle('environments.list', {});
    assert.deepEqual(reply, { error: { code: 'failed', message: `The API key was saved for ${home.url}; the API URL is now ${elsewhere.url} — enter the key again.` } });
    assert.equal(requestsElsewhere(), 0, 'the API key went to the other URL');
  });

  it('the environment key, set for its environment’s URL, is refused when the environment points elsewhere; entered again, it goes there', async () => {
    const { outpost } = open();
    const { environment, environmentKey } = home.createEnvironment('origins');
    await outpost.handle('settings.update', { servedEnvironmentId: environment.id, environment: { environmentId: environment.id, baseUrl: home.url, networkMode: 'host' } });
    assert.deepEqual(await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: environmentKey }), { result: null });
    await outpost.handle('settings.update', { environment: { environmentId: environment.id, baseUrl: elsewhere.url } });
    assert.deepEqual(await outpost.handle('worker.start', {}), {
      error: { code: 'failed', message: `The environment key was saved for ${home.url}; the environment now points at ${elsewhere.url} — enter the key again.` },
    });
    assert.equal(outpost.workerState.status, 'off');
    assert.equal(requestsElsewhere(), 0, 'the environment key went to the other URL');

    // Entered again for the new URL: now it may go there (which refuses it: it is home's key).
    await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: environmentKey });
    assert.deepEqual(await outpost.handle('worker.start', {}), { result: null });
    await outpost.workerDone;
    assert.ok(requestsElsewhere() > 0);
  });

  it('only https:, or http: to this machine, is accepted as a URL keys go to — in settings, account.connect and the CLI', async () => {
    const { outpost } = open();
    for (const url of ['https://api.example.com', 'http://127.0.0.1:9', 'http://127.8.9.10', 'http://localhost:9', 'http://[::1]:9']) {
      assert.ok('result' in (await outpost.handle('settings.update', { apiBaseUrl: url })), url);
    }
    for (const url of ['http://api.example.com', 'http://10.0.0.1', 'http://127.0.0.1.evil.example', 'file:///etc/passwd', 'ftp://127.0.0.1']) {
      const settings = await outpost.handle('settings.update', { apiBaseUrl: url });
      assert.ok('error' in settings && /only https:, or http: to this machine/.test(settings.error.message), `${url}: ${JSON.stringify(settings)}`);
      const profile = await outpost.handle('settings.update', { environment: { environmentId: 'env_x', baseUrl: url } });
      assert.ok('error' in profile, url);
      assert.ok('error' in (await outpost.handle('account.connect', { apiKey: home.apiKey, apiBaseUrl: url })), url);
    }
    const cli = startWorker({ baseUrl: 'http://api.example.com', environmentId: 'env_x', environmentKey: 'sk-ant-env-0123456789' });
    assert.equal(await cli.exited, 64);
    assert.match(cli.output(), /--base-url: only https:, or http: to this machine/);
  });

  describe('secret variables travel one way too (the real keychain)', () => {
    const service = `Outpost-test-origins-${process.pid}`;
    const keychain = () => {
      const secrets = new KeytarSecretStore(service);
      const outpost = Outpost.open({ dataDir: mkdtempSync(join(tmpdir(), 'outpost-origins-')), secrets, logger: silentLogger, prepare: async () => {} });
      opened.push(outpost);
      return { outpost, secrets };
    };
    const DB_PASSWORD = 'the-database-password-of-home';

    it('a secret variable set for an environment’s URL is not handed to the sessions of another control plane, even with that plane’s own key', async () => {
      const { outpost } = keychain();
      const { environment, environmentKey } = home.createEnvironment('secret-vars');
      await outpost.handle('settings.update', {
        servedEnvironmentId: environment.id,
        environment: { environmentId: environment.id, baseUrl: home.url, networkMode: 'host', envVars: [{ name: 'DB_PASSWORD', inKeychain: true }] },
      });
      assert.deepEqual(await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: environmentKey }), { result: null });
      assert.deepEqual(await outpost.handle('keys.set', { kind: 'env-var', environmentId: environment.id, name: 'DB_PASSWORD', value: DB_PASSWORD }), { result: null });
      // Repointed, and given the other plane's own key for the same environment id.
      const other = elsewhere.createEnvironment('secret-vars');
      await outpost.handle('settings.update', { environment: { environmentId: environment.id, baseUrl: elsewhere.url } });
      await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: other.environmentKey });
      const before = requestsElsewhere();
      assert.deepEqual(await outpost.handle('worker.start', {}), {
        error: {
          code: 'failed',
          message: `The secret variable DB_PASSWORD of ${environment.id} was saved for ${home.url}; the environment now points at ${elsewhere.url} — enter its value again.`,
        },
      });
      assert.equal(outpost.workerState.status, 'off');
      assert.equal(requestsElsewhere(), before, 'nothing was asked of the other plane');
      await outpost.handle('keys.clear', { kind: 'env-var', environmentId: environment.id, name: 'DB_PASSWORD' });
      await outpost.handle('keys.clear', { kind: 'environment-key', environmentId: environment.id });
    });

    it('a secret variable kept by an older Outpost is bound at its first use to the environment’s URL then, and refused for another after', async () => {
      const keytar = createRequire(import.meta.url)('keytar') as typeof import('keytar');
      const { outpost, secrets } = keychain();
      const { environment, environmentKey } = home.createEnvironment('legacy-vars');
      await outpost.handle('settings.update', {
        servedEnvironmentId: environment.id,
        environment: { environmentId: environment.id, baseUrl: home.url, networkMode: 'host', envVars: [{ name: 'DB_PASSWORD', inKeychain: true }] },
      });
      await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: environmentKey });
      const account = `env-var:${environment.id}:DB_PASSWORD`;
      // Both shapes an older Outpost left: the value alone, and bound to no URL ("session-containers").
      for (const legacy of [DB_PASSWORD, JSON.stringify({ origin: 'session-containers', key: DB_PASSWORD })]) {
        await keytar.setPassword(service, account, legacy);
        assert.deepEqual(await outpost.handle('worker.start', {}), { result: null });
        await outpost.stopWorker('now');
        assert.deepEqual(JSON.parse((await keytar.getPassword(service, account))!), { origin: home.url, key: DB_PASSWORD });
      }
      await outpost.handle('settings.update', { environment: { environmentId: environment.id, baseUrl: elsewhere.url } });
      await outpost.handle('keys.set', { kind: 'environment-key', environmentId: environment.id, value: environmentKey });
      const reply = await outpost.handle('worker.start', {});
      assert.ok('error' in reply && /secret variable DB_PASSWORD .* was saved for/.test(reply.error.message), JSON.stringify(reply));
      await secrets.delete({ kind: 'env-var', environmentId: environment.id, name: 'DB_PASSWORD' });
      await secrets.delete({ kind: 'environment-key', environmentId: environment.id });
    });
  });
});
