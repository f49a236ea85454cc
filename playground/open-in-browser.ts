import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Open the dashboard's address (its token in the `#fragment`) in the desktop's browser without
 * putting the address in anyone's command line: every local user can read every process's argv
 * (`ps`, /proc/<pid>/cmdline), so `xdg-open URL#token=…` would hand them the dashboard. The opener
 * gets a one-time page instead, 0600 in a 0700 folder of its own, that sends the browser on to the
 * address; it is removed after `removeAfterMs` (the browser has read it by then) or by `remove()`.
 * Undefined when there is no desktop to open it on (the address is printed either way).
 */
export function openInBrowser(address: string, opts: { opener?: string; removeAfterMs?: number } = {}): { page: string; remove: () => void } | undefined {
  const opener =
    opts.opener ??
    (process.platform === 'darwin' ? 'open'
    : process.platform === 'win32' ? 'explorer'
    : process.env['DISPLAY'] || process.env['WAYLAND_DISPLAY'] ? 'xdg-open'
    : null);
  if (!opener) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'outpost-open-'));
  const page = join(dir, 'dashboard.html');
  // JSON.stringify escapes quotes; < is escaped so the address cannot close the script.
  const target = JSON.stringify(address).replace(/</g, '\\u003c');
  writeFileSync(page, `<!doctype html>\n<meta charset="utf-8"><title>Outpost</title>\n<script>location.replace(${target});</script>\n`, { mode: 0o600, flag: 'wx' });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  setTimeout(remove, opts.removeAfterMs ?? 60_000).unref();
  process.once('exit', remove);
  spawn(opener, [page], { stdio: 'ignore', detached: true }).on('error', () => {}).unref();
  return { page, remove };
}
