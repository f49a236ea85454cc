import { z } from 'zod';

/**
 * What an id from a control plane (work, session, environment) may look like before it names a
 * folder, a file, a label or a container (DESIGN §4: ids are data, not paths). Real ids are
 * `work_…`, `sesn_…`, `env_…` (seed 001, the Anthropic playground), UUIDs and `w-123` (seed 000,
 * the Bridge playground): letters, digits, `_` and `-`. No dot, no slash, never `.` or `..`; a
 * letter or digit first, so no id reads as a flag; at most 128 characters, so a name is never
 * truncated and two ids never share one.
 */
export const CONTROL_PLANE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const controlPlaneId = z.string().regex(CONTROL_PLANE_ID, 'an id of letters, digits, _ and - (at most 128), such as work_…');

export function isControlPlaneId(value: unknown): value is string {
  return typeof value === 'string' && CONTROL_PLANE_ID.test(value);
}

/** An id for a message: quoted, cut short, so a hostile one cannot forge a log line. */
export function quoteId(value: unknown): string {
  return JSON.stringify(String(value).slice(0, 160));
}
