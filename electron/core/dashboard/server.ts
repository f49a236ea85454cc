import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { DASHBOARD_PROTOCOL, DASHBOARD_TOKEN_PROTOCOL } from '../../../shared/channels.js';
import type { Outpost } from '../outpost.js';
import type { Logger } from '../logs/log.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";
const callMessage = z.object({ id: z.number().int(), channel: z.string().max(100), arg: z.unknown() });

export interface DashboardOptions {
  service: Pick<Outpost, 'handle' | 'events' | 'startupNotices'>;
  /** The built renderer (dist/renderer). */
  root: string;
  logger: Logger;
  port?: number;
}

/**
 * The headless dashboard: the window's renderer over HTTP on 127.0.0.1 only, with the same
 * contract carried by a WebSocket. The static files hold no secret and are served without
 * the token; every byte of data travels on the WebSocket, whose handshake must present the
 * random token (in `Sec-WebSocket-Protocol`). The printed URL carries it in its fragment
 * (`#token=…`), which a browser never sends to any server; the page keeps it in memory and
 * removes it from the address bar. Never a cookie: a browser sends a 127.0.0.1 cookie to
 * every port on 127.0.0.1 — any local dev server, a session's own under host networking.
 * Host and Origin must name this very server, so no web page the user visits can drive it
 * (DNS rebinding, cross-site WebSocket).
 */
export class DashboardServer {
  readonly token = randomBytes(24).toString('base64url');
  readonly #opts: DashboardOptions;
  readonly #http: Server;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20, handleProtocols: () => DASHBOARD_PROTOCOL });
  #port = 0;

  constructor(opts: DashboardOptions) {
    this.#opts = opts;
    this.#http = createServer((req, res) => {
      try {
        this.#serve(req, res);
      } catch (e) {
        // Whatever a request does, it costs that request: the worker and its sessions go on.
        this.#opts.logger.warn('dashboard request failed', { error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      }
    });
    this.#http.on('upgrade', (req, socket, head) => {
      const refusal = this.#refusal(req, true);
      if (refusal) {
        socket.end(`HTTP/1.1 ${refusal} Refused\r\nConnection: close\r\n\r\n`);
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#connect(ws));
    });
  }

  /** Listens on 127.0.0.1; resolves with the URL that carries the token. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#http.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.#port}/#token=${this.token}`;
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }

  /** An HTTP status when the request must be refused. */
  #refusal(req: IncomingMessage, websocket: boolean): number | null {
    const own = [`127.0.0.1:${this.#port}`, `localhost:${this.#port}`];
    if (!own.includes(req.headers.host ?? '')) return 421;
    const origin = req.headers.origin;
    if ((websocket || origin !== undefined) && !own.some((host) => origin === `http://${host}`)) return 403;
    if (!websocket) return null;
    return this.#presentedToken(req) ? null : 401;
  }

  /** Only the handshake's `Sec-WebSocket-Protocol` counts: not a cookie, not the query string. */
  #presentedToken(req: IncomingMessage): boolean {
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    return offered.some((p) => p.startsWith(DASHBOARD_TOKEN_PROTOCOL) && same(p.slice(DASHBOARD_TOKEN_PROTOCOL.length), this.token));
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const plain = (status: number, text: string) => res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
    const refusal = this.#refusal(req, false);
    if (refusal) return void plain(refusal, 'Refused.');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void plain(405, 'Method not allowed.');
    const file = this.#fileFor(req.url ?? '/');
    if (file === 'malformed') return void plain(400, 'Bad request.');
    if (!file) return void plain(404, 'Not found.');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') return void res.end();
    // A file that vanished or cannot be read ends this response, never the process.
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  /** The renderer file a request path names; 'malformed' for a target no browser sends (`http://[/`, a broken %-escape). */
  #fileFor(target: string): string | 'malformed' | null {
    let relative: string;
    try {
      const { pathname } = new URL(target, 'http://localhost');
      relative = normalize(decodeURIComponent(pathname === '/' ? '/index.html' : pathname)).replace(/^([/\\])+/, '');
    } catch {
      return 'malformed';
    }
    const file = join(this.#opts.root, relative);
    if (relative.includes('\0') || !file.startsWith(this.#opts.root + sep)) return null;
    try {
      return statSync(file).isFile() ? file : null;
    } catch {
      return null;
    }
  }

  #connect(ws: WebSocket): void {
    const send = (message: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const detach = this.#opts.service.events.on((event) => send({ event }));
    for (const message of this.#opts.service.startupNotices) send({ event: { name: 'notice', payload: { level: 'error', message } } });
    ws.on('message', (data) => {
      let parsed: z.infer<typeof callMessage>;
      try {
        parsed = callMessage.parse(JSON.parse(String(data)));
      } catch {
        ws.close(1003, 'not a contract call');
        return;
      }
      void this.#opts.service.handle(parsed.channel, parsed.arg).then((reply) => send({ id: parsed.id, reply }));
    });
    ws.on('close', detach);
    ws.on('error', (e) => this.#opts.logger.warn('dashboard connection failed', { error: e.message }));
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
