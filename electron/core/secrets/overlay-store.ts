import type { KeyRef } from '../../../shared/contract.js';
import type { Secret } from '../secret.js';
import { accountFor, type SecretStore } from './secret-store.js';

/**
 * Keys handed to a headless process (its environment variables) held in memory, in front of
 * the keychain. A key the user sets or clears from the dashboard goes to the keychain and
 * replaces the one held in memory.
 */
export class OverlaySecretStore implements SecretStore {
  readonly #held = new Map<string, Secret>();

  constructor(
    private readonly keychain: SecretStore,
    held: Array<[KeyRef, Secret]>,
  ) {
    for (const [ref, secret] of held) this.#held.set(accountFor(ref), secret);
  }

  async get(ref: KeyRef): Promise<Secret | null> {
    return this.#held.get(accountFor(ref)) ?? this.keychain.get(ref);
  }

  async set(ref: KeyRef, value: string): Promise<void> {
    await this.keychain.set(ref, value);
    this.#held.delete(accountFor(ref));
  }

  async delete(ref: KeyRef): Promise<void> {
    this.#held.delete(accountFor(ref));
    await this.keychain.delete(ref);
  }
}
