import type { KeyRef } from '../../../shared/contract.js';
import type { Secret } from '../secret.js';

/** Where Outpost keeps keys: the OS keychain, and nowhere else — there is no plain-text fallback. */
export interface SecretStore {
  get(ref: KeyRef): Promise<Secret | null>;
  set(ref: KeyRef, value: string): Promise<void>;
  delete(ref: KeyRef): Promise<void>;
}

/** The keychain cannot be reached; the message says so in words a user can act on. */
export class KeychainUnavailableError extends Error {
  override name = 'KeychainUnavailableError';
}

/** The keychain's account name for a key. */
export function accountFor(ref: KeyRef): string {
  return ref.kind === 'api-key' ? 'api-key' : `environment-key:${ref.environmentId}`;
}
