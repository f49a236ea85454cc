/** Outpost's own session image (session/Dockerfile, `outpost image build`). */
export const SESSION_IMAGE = 'outpost-session';

/** Labels on every container Outpost starts; a restarted Outpost finds its leftovers by them. */
export const LABEL = {
  workId: 'outpost.work_id',
  environmentId: 'outpost.environment_id',
  sessionId: 'outpost.session_id',
  /** One value per Outpost process. */
  instance: 'outpost.instance',
  /** One value per data folder (an install), so two installs on one machine leave each other alone. */
  install: 'outpost.install',
  /** `egress`: a session's forwarder sidecar (runtime/egress-sidecar.ts); sessions carry none. */
  role: 'outpost.role',
  /** A sidecar's socket folder in the data folder's egress/, removed with it (also by startup recovery). */
  egressDir: 'outpost.egress_dir',
  /**
   * A warm container (worker/warm-pool.ts): started before any item was claimed, so it carries no
   * work id. Its value is the warm name its workspace and log were made under; once handed an item it
   * is renamed `outpost-<work id>-…` and its claim record names it (labels cannot change).
   */
  warm: 'outpost.warm',
} as const;

/**
 * On an image whose entrypoint is Outpost's keeper (session/keeper.sh at KEEPER_ENTRYPOINT): started
 * as root with KILL, SETUID and SETGID only, it runs the session runner as SESSION_USER_VARIABLE says
 * and takes the item as a frame on stdin (handover-frame.ts), the runner waiting with no credential
 * until then; when that stdin closes — Outpost died — it ends the container. Only such images are kept
 * warm; a cold start of one gets its item there too (worker/supervisor.ts), never in its environment.
 * The value names the protocol's version: an image of an older Outpost (`stdin`: a runner that read a
 * bare JSON line and ran as the session's uid itself; `keeper-v1`: a keeper that could not run the session as a
 * root without capabilities) is started as any other image, from its environment.
 */
export const HANDOVER_LABEL = 'outpost.handover';
export const HANDOVER_KEEPER = 'keeper-v2';
export const KEEPER_ENTRYPOINT = '/opt/outpost/keeper';
/** `uid:gid`: who the keeper runs the runner (and so the session) as. */
export const SESSION_USER_VARIABLE = 'OUTPOST_SESSION_USER';
/** `none`: the keeper runs the runner with an empty bounding set (it shares the keeper's uid: rootless Docker's root). */
export const SESSION_CAPABILITIES_VARIABLE = 'OUTPOST_SESSION_CAPABILITIES';

/**
 * Whether an image takes its item from Outpost's keeper: the label, and the keeper as its entrypoint.
 * Such a container starts as root (with three capabilities), so an image built FROM Outpost's that
 * replaced the entrypoint but kept the inherited label must not be started so: it runs as any other.
 */
export function takesHandover(image: { labels: Record<string, string>; entrypoint: readonly string[] }): boolean {
  return image.labels[HANDOVER_LABEL] === HANDOVER_KEEPER && image.entrypoint.length === 1 && image.entrypoint[0] === KEEPER_ENTRYPOINT;
}

/**
 * The names a handover may carry (the runner refuses a line with any other): the ones its environment
 * path reads. An item whose variables are all among them is handed over on stdin, warm or cold.
 */
export const HANDOVER_NAMES: ReadonlySet<string> = new Set(['ANTHROPIC_BASE_URL', 'ANTHROPIC_WORK_ID', 'ANTHROPIC_ENVIRONMENT_ID', 'ANTHROPIC_SESSION_ID', 'ANTHROPIC_AUTH_TOKEN']);
