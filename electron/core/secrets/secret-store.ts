import type { KeyRef } from '../../../shared/contract.js';
import type { Secret } from './secret.js';

/**
 * A key and the one origin it may be sent to: the origin it was verified with (the API key,
 * by `account.connect`) or set for (an environment key, its environment's URL).
 * `origin` null: an entry written by an older Outpost, which kept the key alone (key-origins.ts binds it).
 */
export interface StoredKey {
  secret: Secret;
  origin: string | null;
}

/** Where Outpost keeps keys: the OS keychain, and nowhere else — there is no plain-text fallback. */
export interface SecretStore {
  get(ref: KeyRef): Promise<StoredKey | null>;
  /** Keep the key, bound to `origin` (scheme://host:port). */
  set(ref: KeyRef, value: string, origin: string): Promise<void>;
  delete(ref: KeyRef): Promise<void>;
}

/** The keychain cannot be reached; the message says so in words a user can act on. */
export class KeychainUnavailableError extends Error {
  override name = 'KeychainUnavailableError';
}

/** The keychain's account name for a key. */
export function accountFor(ref: KeyRef): string {
  if (ref.kind === 'env-var') return `env-var:${ref.environmentId}:${ref.name}`;
  return ref.kind === 'api-key' ? 'api-key' : `environment-key:${ref.environmentId}`;
}
