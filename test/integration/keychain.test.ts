import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { KeytarSecretStore } from '../../electron/core/secrets/keytar-store.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Against a real Secret Service: gnome-keyring, started by the test command under dbus-run-session. */
describe('keys in the OS keychain (keytar, real Secret Service)', () => {
  const store = new KeytarSecretStore(`Outpost-test-${process.pid}`);
  const ref = { kind: 'environment-key', environmentId: 'env_keychain' } as const;

  it('sets, reads, replaces and deletes a key', async () => {
    assert.equal(await store.get(ref), null);
    await store.set(ref, 'sk-ant-env-first-value-123');
    assert.equal((await store.get(ref))?.reveal(), 'sk-ant-env-first-value-123');
    await store.set(ref, 'sk-ant-env-second-value-456');
    assert.equal((await store.get(ref))?.reveal(), 'sk-ant-env-second-value-456');
    assert.equal((await store.get({ kind: 'api-key' })), null, 'keys are kept apart');
    await store.delete(ref);
    assert.equal(await store.get(ref), null);
  });

  it('a missing keychain gives a plain error, and nothing is written anywhere else', async () => {
    const script = `
      import { KeytarSecretStore } from './electron/core/secrets/keytar-store.ts';
      try { await new KeytarSecretStore('Outpost-test').set({ kind: 'api-key' }, 'sk-ant-api03-never-stored'); console.log('stored?!'); }
      catch (e) { console.log(e.name + ': ' + e.message); }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', DISPLAY: '' },
    });
    assert.match(stdout, /^KeychainUnavailableError: The system keychain is not available \(.+\)\. Outpost stores keys only in the keychain/);
    assert.doesNotMatch(stdout, /never-stored/);
  });
});
