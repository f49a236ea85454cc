import type { CustomScheme } from 'electron';
import { promises as fs } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * The window's own origin, app://outpost, serving dist/renderer. Not file://: a custom
 * protocol's responses carry our headers (the CSP among them), its pages get a real origin
 * instead of every file on disk being same-origin, and only this folder can be read
 * (Electron security checklist, item 18: "avoid file://, prefer custom protocols").
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'outpost';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * The window's Content-Security-Policy, sent as a header with every app:// response (Electron
 * security checklist). It matches renderer/index.html's meta CSP and the dashboard's header: the
 * renderer needs only its own scripts and styles (React's style props go through the CSSOM, which
 * CSP does not govern) and data:/blob: images. frame-ancestors works only as a header, not in a meta.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Registered before `ready` (Electron requires it). standard: a real origin (app://outpost),
 * relative URLs resolve as on the web; secure: a secure context, like https; supportFetchAPI:
 * the page may fetch() its own files. No corsEnabled and no bypassCSP: other origins cannot
 * read these files, and the CSP holds.
 */
export const APP_SCHEME_PRIVILEGES: CustomScheme = { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } };

/** True only for app://outpost/… — not file://, not another host of the app scheme, no credentials or port. */
export function isAppUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST && parsed.username === '' && parsed.password === '';
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** Sent with every answer, the refusals included (parity with the dashboard's server). */
function headers(contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

const refuse = (status: 404 | 405) => new Response(status === 404 ? 'Not found.\n' : 'Method not allowed.\n', { status, headers: headers('text/plain; charset=utf-8') });

/**
 * The app protocol's handler: answers a file inside `root` (dist/renderer) and 404 for
 * anything else — another host, `..` in any spelling (%2e%2e, %2f, backslashes), NUL,
 * absolute paths, folders, and symlinks whose target lies outside the root. Plain Node
 * (fs and the global Response), so it is tested with hostile URLs without Electron. Packaged,
 * root lies inside app.asar: Electron patches fs.promises (realpath, stat, readFile) to read
 * the archive, hence `fs.x` looked up at call time rather than named imports bound earlier.
 */
export function appFileHandler(root: string): (request: Pick<Request, 'url' | 'method'>) => Promise<Response> {
  return async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return refuse(405);
    const file = await resolveInside(await fs.realpath(resolve(root)).catch(() => null), request.url);
    if (!file) return refuse(404);
    const found = headers(TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    if (request.method === 'HEAD') return new Response(null, { status: 200, headers: found });
    const body = await fs.readFile(file).catch(() => null);
    return body ? new Response(new Uint8Array(body), { status: 200, headers: found }) : refuse(404);
  };
}

/** The real path of the file the URL names, when it is a file inside root; else null. */
async function resolveInside(root: string | null, url: string): Promise<string | null> {
  if (!root || !isAppUrl(url)) return null;
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return null; // malformed percent-encoding
  }
  if (path === '/' || path === '') path = '/index.html';
  // Checked after decoding: %2e%2e and %2f survive the URL parser and only become `..` and `/` here.
  const segments = path.split(/[/\\]/);
  if (path.includes('\0') || segments.some((s) => s === '..' || s === '.')) return null;
  const wanted = path.replace(/^[/\\]+/, '');
  if (wanted === '' || isAbsolute(wanted) || /^[a-zA-Z]:/.test(wanted)) return null; // `//etc/passwd`, `C:\…`
  const candidate = resolve(root, wanted);
  if (!inside(root, candidate)) return null;
  try {
    // The real path, so a symlink inside the folder cannot lead out of it.
    const real = await fs.realpath(candidate);
    if (!inside(root, real) || !(await fs.stat(real)).isFile()) return null;
    return real;
  } catch {
    return null; // missing file, dangling link
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}
