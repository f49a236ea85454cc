import type { KeyRef, Settings } from '../../../shared/contract.js';
import type { Secret } from './secret.js';
import type { SecretStore } from './secret-store.js';
import { UserError } from '../base/user-error.js';

/**
 * Keys travel one way (DESIGN §4): each key is sent only to the origin kept with it in the
 * keychain — the origin the API key was verified with, the URL an environment key was set for.
 * A URL changed since (settings.update from any window) needs the key entered again.
 */

/** scheme://host:port of a URL, as the keychain keeps it. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/**
 * The origin a key set now is bound to: the API URL, or its environment's URL — which must be
 * chosen first: an environment key is never kept for a URL guessed on the user's behalf. A secret
 * variable is bound to its environment's URL too: it goes into the sessions that control plane
 * hands out, and a plane the environment was repointed at since would be handed it with its first session.
 */
export function originForNewKey(settings: Settings, ref: KeyRef): string {
  if (ref.kind === 'api-key') return originOf(settings.apiBaseUrl);
  const profile = settings.environments.find((e) => e.environmentId === ref.environmentId);
  if (!profile) throw new UserError(`Choose the URL environment ${ref.environmentId} is served from first: its ${ref.kind === 'env-var' ? 'secret variables are' : 'key is'} kept for that URL only.`);
  return originOf(profile.baseUrl);
}

/**
 * What an earlier Outpost bound a secret variable to: its sessions' containers, whichever plane
 * served them. Such a value is treated as unbound and bound at its first use, like a key kept alone.
 */
export const SESSION_CONTAINERS = 'session-containers';

/** The key is bound to another origin than the one it would be sent to now. */
export class KeyOriginError extends UserError {
  override name = 'KeyOriginError';
}

/**
 * The key for `ref`, to be sent to `url`; null when none is kept. Refuses when the key is bound
 * to another origin. An entry written by an older Outpost (the key alone) is bound to the
 * origin configured now and rewritten so: that is where it has been going all along, so
 * binding it loses nothing, and asking every upgraded install for both keys again would
 * gain nothing against a URL changed before the upgrade (the key went there already).
 */
export async function keyFor(store: SecretStore, ref: KeyRef, url: string): Promise<Secret | null> {
  const stored = await store.get(ref);
  if (!stored) return null;
  const target = originOf(url);
  if (stored.origin === null || (ref.kind === 'env-var' && stored.origin === SESSION_CONTAINERS)) {
    await store.set(ref, stored.secret.reveal(), target);
    return stored.secret;
  }
  if (stored.origin !== target) {
    throw new KeyOriginError(
      ref.kind === 'api-key' ? `The API key was saved for ${stored.origin}; the API URL is now ${target} — enter the key again.`
      : ref.kind === 'env-var' ?
        `The secret variable ${ref.name} of ${ref.environmentId} was saved for ${stored.origin}; the environment now points at ${target} — enter its value again.`
      : `The environment key was saved for ${stored.origin}; the environment now points at ${target} — enter the key again.`,
    );
  }
  return stored.secret;
}
