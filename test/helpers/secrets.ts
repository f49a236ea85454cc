import { Secret } from '../../electron/core/secrets/secret.js';
import { accountFor, type SecretStore, type StoredKey } from '../../electron/core/secrets/secret-store.js';

/** Keys in memory, each bound to its origin as the keychain keeps them: for tests about something else than the keychain (keychain.test.ts is). */
export function memorySecrets(): SecretStore & { entries: Map<string, StoredKey> } {
  const entries = new Map<string, StoredKey>();
  return {
    entries,
    get: async (ref) => entries.get(accountFor(ref)) ?? null,
    set: async (ref, value, origin) => void entries.set(accountFor(ref), { secret: new Secret(value), origin }),
    delete: async (ref) => void entries.delete(accountFor(ref)),
  };
}
