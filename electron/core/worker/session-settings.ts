import type { EgressSettings } from '../runtime/session-egress.js';
import type { ReadOnlyMounts } from '../runtime/mounts.js';
import type { ContainerLimits } from '../runtime/session-runtime.js';
import type { Secret } from '../secrets/secret.js';

/** What an environment's profile gives each of its sessions: what the supervisor starts cold and the warm pool keeps ready. */
export interface SessionSettings {
  image: string;
  /** The Docker network of an `open` policy (the only one without Outpost's egress proxy). */
  networkMode: string;
  /** What sessions may reach; none given: `open`. */
  egress?: EgressSettings;
  /** The environment's variables for its sessions; secret ones held as Secret (redacted in every log). */
  env?: Record<string, string | Secret>;
  /** Host folders its sessions read, judged again at each container's create (runtime/mounts.ts). */
  mounts?: ReadOnlyMounts;
  limits: ContainerLimits;
  /** Seconds between SIGTERM and SIGKILL when a session is stopped. */
  graceSeconds: number;
  /** The profile lets sessions run as uid 0 (DESIGN §4: never, unless asked for): warned at each start. */
  allowRoot?: boolean;
}
