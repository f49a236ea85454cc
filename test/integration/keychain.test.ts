import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { createRequire } from 'node:module';
import { keyFor } from '../../electron/core/secrets/key-origins.js';
import { KeytarSecretStore } from '../../electron/core/secrets/keytar-store.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Against a real Secret Service: gnome-keyring, started by the test command under dbus-run-session. */
describe('keys in the OS keychain (keytar, real Secret Service)', () => {
  const service = `Outpost-test-${process.pid}`;
  const store = new KeytarSecretStore(service);
  const ref = { kind: 'environment-key', environmentId: 'env_keychain' } as const;

  it('sets, reads, replaces and deletes a key', async () => {
    assert.equal(await store.get(ref), null);
    await store.set(ref, 'sk-ant-env-first-value-123', 'https://a.example');
    assert.equal((await store.get(ref))?.secret.reveal(), 'sk-ant-env-first-value-123');
    assert.equal((await store.get(ref))?.origin, 'https://a.example');
    await store.set(ref, 'sk-ant-env-second-value-456', 'https://b.example');
    assert.equal((await store.get(ref))?.secret.reveal(), 'sk-ant-env-second-value-456');
    assert.equal((await store.get(ref))?.origin, 'https://b.example');
    assert.equal((await store.get({ kind: 'api-key' })), null, 'keys are kept apart');
    await store.delete(ref);
    assert.equal(await store.get(ref), null);
  });

  it('a key an older Outpost kept alone is bound to the origin configured now, rewritten so, and refused for any other', async () => {
    const keytar = createRequire(import.meta.url)('keytar') as typeof import('keytar');
    await keytar.setPassword(service, 'environment-key:env_legacy', 'sk-ant-env-legacy-value-789');
    const legacy = { kind: 'environment-key', environmentId: 'env_legacy' } as const;
    assert.deepEqual(await store.get(legacy).then((k) => k && { key: k.secret.reveal(), origin: k.origin }), { key: 'sk-ant-env-legacy-value-789', origin: null });
    assert.equal((await keyFor(store, legacy, 'http://127.0.0.1:4000/v1'))?.reveal(), 'sk-ant-env-legacy-value-789');
    assert.deepEqual(JSON.parse((await keytar.getPassword(service, 'environment-key:env_legacy'))!), { origin: 'http://127.0.0.1:4000', key: 'sk-ant-env-legacy-value-789' });
    await assert.rejects(keyFor(store, legacy, 'https://elsewhere.example'), {
      message: 'The environment key was saved for http://127.0.0.1:4000; the environment now points at https://elsewhere.example — enter the key again.',
    });
    await store.delete(legacy);
  });

  it('a missing keychain gives a plain error, and nothing is written anywhere else', async () => {
    const script = `
      import { KeytarSecretStore } from './electron/core/secrets/keytar-store.ts';
      try { await new KeytarSecretStore('Outpost-test').set({ kind: 'api-key' }, 'sk-ant-api03-never-stored', 'https://a.example'); console.log('stored?!'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', DISPLAY: '' },
    });
    assert.match(stdout, /^KeychainUnavailableError: The system keychain is not available \(.+\)\. Outpost stores keys only in the keychain/);
    assert.doesNotMatch(stdout, /never-stored/);
  });
});
