import { redact } from '../secrets/secret.js';

/**
 * What the headless command prints: every write to stdout and stderr passes the one redaction
 * filter, so an error that quotes a key (a 401 echoing the Authorization header) prints `[redacted]`.
 */
export const terminal = {
  out: (text: string): boolean => process.stdout.write(redact(text)),
  err: (text: string): boolean => process.stderr.write(redact(text)),
};

/** A closed terminal (EPIPE: `outpost worker | head`, a closed ssh session) costs the terminal output, never the worker. */
export function survivePipeClosed(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}
