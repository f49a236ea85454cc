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
} as const;
