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
 * On an image: its entrypoint waits, with no credential, for its item as one JSON line on stdin when
 * the ANTHROPIC_* variables are absent (session/runner.ts). Only such images are kept warm; a cold
 * start of one gets its item there too (worker/supervisor.ts), never in its environment.
 */
export const HANDOVER_LABEL = 'outpost.handover';
export const HANDOVER_STDIN = 'stdin';

/**
 * The names a handover may carry (the runner refuses a line with any other): the ones its environment
 * path reads. An item whose variables are all among them is handed over on stdin, warm or cold.
 */
export const HANDOVER_NAMES: ReadonlySet<string> = new Set(['ANTHROPIC_BASE_URL', 'ANTHROPIC_WORK_ID', 'ANTHROPIC_ENVIRONMENT_ID', 'ANTHROPIC_SESSION_ID', 'ANTHROPIC_AUTH_TOKEN']);
