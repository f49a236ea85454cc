import type { KeyRef } from '../../../shared/contract.js';
import { accountFor, type SecretStore, type StoredKey } from './secret-store.js';

/**
 * Keys handed to a headless process (its environment variables) held in memory, in front of
 * the keychain. A key the user sets or clears from the dashboard goes to the keychain and
 * replaces the one held in memory.
 */
export class OverlaySecretStore implements SecretStore {
  readonly #held = new Map<string, StoredKey>();

  constructor(
    private readonly keychain: SecretStore,
    held: Array<[KeyRef, StoredKey]>,
  ) {
    for (const [ref, key] of held) this.hold(ref, key);
  }

  /** Hold a key in memory, bound to its origin, in front of the keychain's. */
  hold(ref: KeyRef, key: StoredKey): void {
    this.#held.set(accountFor(ref), key);
  }

  async get(ref: KeyRef): Promise<StoredKey | null> {
    return this.#held.get(accountFor(ref)) ?? this.keychain.get(ref);
  }

  async set(ref: KeyRef, value: string, origin: string): Promise<void> {
    await this.keychain.set(ref, value, origin);
    this.#held.delete(accountFor(ref));
  }

  async delete(ref: KeyRef): Promise<void> {
    this.#held.delete(accountFor(ref));
    await this.keychain.delete(ref);
  }
}
