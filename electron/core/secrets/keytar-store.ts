import { createRequire } from 'node:module';
import { Secret } from './secret.js';
import type { KeyRef } from '../../../shared/contract.js';
import { accountFor, KeychainUnavailableError, type SecretStore, type StoredKey } from './secret-store.js';

type Keytar = typeof import('keytar');

/**
 * Keys in the OS keychain through keytar: Keychain on macOS, Credential Manager on
 * Windows, the Secret Service (GNOME Keyring, KWallet) on Linux. Each entry holds the key and
 * the origin it is bound to, as JSON `{"origin", "key"}`, in the one keychain item: the two can
 * never be changed apart. An entry that is not that JSON is a key an older Outpost wrote alone.
 */
export class KeytarSecretStore implements SecretStore {
  readonly #service: string;
  #keytar: Keytar | undefined;

  constructor(service = 'Outpost') {
    this.#service = service;
  }

  async get(ref: KeyRef): Promise<StoredKey | null> {
    const value = await this.#call((k) => k.getPassword(this.#service, accountFor(ref)));
    return value ? parseEntry(value) : null;
  }

  async set(ref: KeyRef, value: string, origin: string): Promise<void> {
    await this.#call((k) => k.setPassword(this.#service, accountFor(ref), JSON.stringify({ origin, key: value })));
  }

  async delete(ref: KeyRef): Promise<void> {
    await this.#call((k) => k.deletePassword(this.#service, accountFor(ref)));
  }

  async #call<T>(op: (keytar: Keytar) => Promise<T>): Promise<T> {
    try {
      // Loaded on first use: a machine without the native module still starts and says why.
      this.#keytar ??= createRequire(import.meta.url)('keytar') as Keytar;
      return await op(this.#keytar);
    } catch (e) {
      throw new KeychainUnavailableError(
        `The system keychain is not available (${(e as Error).message.split('\n')[0]}). ` +
          'Outpost stores keys only in the keychain; on Linux, install and unlock a Secret Service such as GNOME Keyring.',
      );
    }
  }
}

function parseEntry(value: string): StoredKey {
  if (value.startsWith('{')) {
    try {
      const entry = JSON.parse(value) as { origin?: unknown; key?: unknown };
      if (typeof entry.origin === 'string' && typeof entry.key === 'string' && entry.key) return { secret: new Secret(entry.key), origin: entry.origin };
    } catch {
      // not an entry of ours: a key that happens to start with `{`
    }
  }
  return { secret: new Secret(value), origin: null };
}
