import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { EgressConnection } from '../../../shared/contract.js';
import type { EgressPolicyRules } from './policy.js';
import { normalHost, plainAddress } from './policy.js';
import { awaitFirstBytes } from './first-bytes.js';
import { LookupQueue } from './lookup-queue.js';
import { systemResolver, type Resolver } from './name-lookup.js';
import { HeldBytes, TunnelReads } from './tunnel-reads.js';

export type { Resolver } from './name-lookup.js';

export type ConnectionRecord = Omit<EgressConnection, 'workId'>;

export interface EgressProxyOptions {
  rules: EgressPolicyRules;
  onConnection: (record: ConnectionRecord) => void;
  /** Name lookups: the system's name servers by default (never libuv's thread pool). */
  resolve?: Resolver;
  /** A name lookup or a connect that takes longer fails the connection. */
  connectTimeoutMs?: number;
  /** A tunnel's client must send its first bytes (a TLS ClientHello, an HTTP request head) within this. */
  firstBytesTimeoutMs?: number;
}

/** host:port of a CONNECT: a name, an IPv4 address or a bracketed IPv6 one, and a port. Nothing else gets a lookup. */
const AUTHORITY = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]{1,253}):(\d{1,5})$/;
/** Headers for this hop only (RFC 9110 §7.6.1), and the proxy's own: never forwarded. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** A session may hold this many connections through its proxy at once; more are refused. */
export const MAX_CONNECTIONS = 512;
/** Clients send a ClientHello or a request head at once: a few seconds is ample, even on a slow link. */
const FIRST_BYTES_TIMEOUT_MS = 5_000;

type Opened = { socket: Socket; address: string; rule: string } | { refused: string; suggest?: string } | { rule: string; error: string };

/**
 * One session's way out: an HTTP proxy, handed each of the session's connections as a stream (the
 * runtime carries them from the session's forwarder sidecar over the Docker API), that decides each by
 * the environment's rules — HTTP CONNECT for TLS (and anything else tunnelled), plain HTTP requests
 * forwarded — looks names up itself and connects to the very address it judged, and reports every
 * connection: host, port, the rule, bytes each way, duration.
 */
export class EgressProxy {
  readonly #opts: EgressProxyOptions;
  readonly #server: Server;
  readonly #open = new Set<Duplex>();
  #accepted = 0;
  /** What this session's tunnels hold for clients that do not read, bounded for all of them together. */
  readonly #held = new HeldBytes();
  readonly #resolve: Resolver;
  readonly #lookups = new LookupQueue();
  #count = 0;

  private constructor(opts: EgressProxyOptions) {
    this.#opts = { ...opts };
    this.#resolve = opts.resolve ?? systemResolver();
    // No request timeout: an upload may take long; the headers must come within 15 s (a slow-loris session ties up nothing).
    this.#server = createServer({ headersTimeout: 15_000, requestTimeout: 0, keepAliveTimeout: 5_000 });
    this.#server.maxConnections = MAX_CONNECTIONS;
    this.#server.on('connection', (socket: Socket) => this.#track(socket));
    this.#server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.#tunnel(req, socket, head));
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#forward(req, res));
    this.#server.on('clientError', (_e, socket: Duplex) => socket.destroy());
  }

  /** Bytes the session's tunnels hold now for clients that have not taken them (bounded: SESSION_HELD_BYTES). */
  get heldBytes(): number {
    return this.#held.held;
  }

  /** A proxy that takes connections from `accept`. */
  static create(opts: EgressProxyOptions): EgressProxy {
    return new EgressProxy(opts);
  }

  /** A proxy that also listens on a unix socket or a loopback port (the proxy's own tests and bench). */
  static async listen(opts: EgressProxyOptions & { socketPath: string }): Promise<EgressProxy> {
    const proxy = new EgressProxy(opts);
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(opts.socketPath, () => (proxy.#server.off('error', reject), resolve()));
    });
    return proxy;
  }

  /**
   * One connection of the session's, from any transport: it is read as HTTP/1.1 (CONNECT, or a
   * plain request in absolute form). Past MAX_CONNECTIONS open at once it is refused in words.
   */
  accept(connection: Duplex): void {
    if (this.#accepted >= MAX_CONNECTIONS) {
      const body = `Outpost refused a connection: this session already holds ${MAX_CONNECTIONS} through its egress proxy\n`;
      connection.on('error', () => connection.destroy());
      connection.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    this.#accepted++;
    connection.once('close', () => this.#accepted--);
    this.#server.emit('connection', connection);
  }

  /**
   * What decides each connection, and who hears of it, from here on: a warm session's proxy starts
   * refusing everything and unheard, and gets its item's rules and log at the handover.
   */
  bind(rules: EgressPolicyRules, onConnection: (record: ConnectionRecord) => void): void {
    this.#opts.rules = rules;
    this.#opts.onConnection = onConnection;
  }

  /** Stop listening and cut every connection still open; resolves once each has closed and been reported. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const sockets = [...this.#open];
    const gone = sockets.map((s) => (s.closed ? Promise.resolve() : new Promise<void>((resolve) => s.once('close', () => resolve()))));
    for (const socket of sockets) socket.destroy();
    await Promise.all([closed, ...gone]);
    // A report is made in a 'close' listener of its own: let those run first.
    await new Promise((resolve) => setImmediate(resolve));
  }

  #track(socket: Duplex): void {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
  }

  async #tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const at = Date.now();
    const id = ++this.#count;
    client.on('error', () => client.destroy());
    const target = AUTHORITY.exec(req.url ?? '');
    const port = Number(target?.[2] ?? 0);
    if (!target || port < 1 || port > 65_535) {
      client.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const host = normalHost(target[1]!);
    const reads = new TunnelReads(this.#held);
    const opened = await this.#connect(host, port, reads);
    if (!('socket' in opened)) {
      const status = 'refused' in opened ? '403 Forbidden' : '502 Bad Gateway';
      const body = 'refused' in opened ? `Outpost refused ${host}:${port}: ${opened.refused}\n` : `Outpost could not reach ${host}:${port}: ${opened.error}\n`;
      client.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      this.#report({ id, at, method: 'CONNECT', host, port, ...outcome(opened) });
      return;
    }
    const { socket: upstream, address, rule } = opened;
    this.#track(upstream);
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    // The server's bytes go to the client at once (a server that speaks first, SSH or SMTP, is answered only after);
    // the client's go up only once its first bytes are judged.
    reads.attach(upstream, client);
    let error: string | undefined;
    let refused = false;
    upstream.on('error', (e: NodeJS.ErrnoException) => ((error ??= e.code ?? e.message), client.destroy()));
    client.on('close', () => upstream.destroy());
    // A clean end lets the client take what is still queued for it; an error cuts it.
    upstream.once('close', (hadError: boolean) => {
      if (hadError || error) client.destroy();
      else client.end();
      if (!refused) this.#report({ id, at, method: 'CONNECT', host, port, allowed: true, rule, address, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, ...(error ? { error } : {}) });
    });
    const first = await awaitFirstBytes(client, head, host, this.#opts.firstBytesTimeoutMs ?? FIRST_BYTES_TIMEOUT_MS);
    if ('closed' in first) return;
    if ('refused' in first) {
      refused = true;
      this.#report({ id, at, method: 'CONNECT', host, port, allowed: false, rule: first.refused, address });
      upstream.destroy();
      if (first.reply) client.end(first.reply);
      else client.destroy();
      return;
    }
    // A server that said all it had and closed while the client said nothing: already reported as closed.
    if (upstream.closed) return;
    this.#report({ id, at, method: 'CONNECT', host, port, allowed: true, rule, address, open: true });
    if (first.pass.length) upstream.write(first.pass);
    client.pipe(upstream);
  }

  /** A plain HTTP request in absolute form (`GET http://host/path`): decided, then sent on one connection of its own. */
  async #forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const id = ++this.#count;
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      // Origin form: the client did not mean a proxy.
    }
    if (!url || url.protocol !== 'http:' || !url.hostname) {
      res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('Outpost’s egress proxy forwards http:// URLs and tunnels the rest with CONNECT\n');
      return;
    }
    const host = normalHost(url.hostname);
    const port = Number(url.port || 80);
    const opened = await this.#connect(host, port);
    if (!('socket' in opened)) {
      const refused = 'refused' in opened;
      res
        .writeHead(refused ? 403 : 502, { 'content-type': 'text/plain', connection: 'close' })
        .end(refused ? `Outpost refused ${host}:${port}: ${opened.refused}\n` : `Outpost could not reach ${host}:${port}: ${opened.error}\n`);
      this.#report({ id, at, method: 'HTTP', host, port, ...outcome(opened) });
      return;
    }
    const { socket, address, rule } = opened;
    this.#track(socket);
    this.#report({ id, at, method: 'HTTP', host, port, allowed: true, rule, address, open: true });
    // The server picks its site by Host, not by the URL the proxy judged (a shared front of an allowed name serves
    // others): the URL's host replaces whatever Host the client sent, as a proxy must (RFC 9112 §3.2.2).
    const headers: string[] = ['Host', url.host];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i]!.toLowerCase();
      if (!HOP_HEADERS.has(name) && name !== 'host') headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    let error: string | undefined;
    const upstream = request({ method: req.method, path: `${url.pathname}${url.search}`, headers: [...headers, 'Connection', 'close'], createConnection: () => socket, setHost: false });
    upstream.on('response', (answer) => {
      const back: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!HOP_HEADERS.has(answer.rawHeaders[i]!.toLowerCase())) back.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, back);
      answer.pipe(res);
    });
    upstream.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', connection: 'close' }).end(`Outpost could not reach ${host}:${port}: ${error}\n`);
      else res.destroy();
    });
    res.on('close', () => socket.destroy());
    req.pipe(upstream);
    socket.once('close', () => this.#report({ id, at, method: 'HTTP', host, port, allowed: true, rule, address, bytesUp: socket.bytesWritten, bytesDown: socket.bytesRead, ...(error ? { error } : {}) }));
  }

  /** Decide, look the name up, judge every address, connect to the first: the address judged is the one used. A tunnel's reads go to `reads`. */
  async #connect(host: string, port: number, reads?: TunnelReads): Promise<Opened> {
    const { rules } = this.#opts;
    const verdict = rules.decide(host, port);
    if (!verdict.allowed) return { refused: verdict.rule, ...(verdict.suggest ? { suggest: verdict.suggest } : {}) };
    const timeoutMs = this.#opts.connectTimeoutMs ?? 10_000;
    let addresses: string[];
    try {
      addresses = isIP(host) ? [host] : await this.#lookUp(host, timeoutMs);
    } catch (e) {
      return { rule: verdict.rule, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
    }
    if (addresses.length === 0) return { rule: verdict.rule, error: 'ENOTFOUND' };
    // The environment's own API origin is the user's setting (a control plane on this machine in tests and the demo).
    const internal = verdict.anyAddress ? undefined : addresses.find((a) => !rules.addressAllowed(a));
    if (internal) return { refused: `${host} resolves to the internal address ${plainAddress(internal)}: add ${plainAddress(internal)} to the allowlist to allow it`, suggest: plainAddress(internal) };
    const address = plainAddress(addresses[0]!);
    return new Promise<Opened>((resolve) => {
      const socket = connect({ host: address, port, noDelay: true, ...(reads ? { onread: reads.onread } : {}) });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
      socket.once('connect', () => (clearTimeout(timer), socket.removeAllListeners('error'), resolve({ socket, address, rule: verdict.rule })));
      socket.once('error', (e: NodeJS.ErrnoException) => (clearTimeout(timer), resolve({ rule: verdict.rule, error: e.code ?? e.message })));
    });
  }

  /** The session's lookups go a few at a time; waiting for a turn counts in the timeout. */
  async #lookUp(host: string, timeoutMs: number): Promise<string[]> {
    const timedOut = new AbortController();
    const timer = setTimeout(() => timedOut.abort(Object.assign(new Error('ETIMEDOUT'), { code: 'ETIMEDOUT' })), timeoutMs);
    try {
      return await withTimeout(this.#lookups.run(() => this.#resolve(host), timedOut.signal), timeoutMs, 'ETIMEDOUT');
    } finally {
      clearTimeout(timer);
    }
  }

  #report(record: Omit<ConnectionRecord, 'durationMs' | 'bytesUp' | 'bytesDown'> & Partial<ConnectionRecord>): void {
    this.#opts.onConnection({ bytesUp: 0, bytesDown: 0, ...record, durationMs: Date.now() - record.at });
  }
}

function outcome(opened: { refused: string; suggest?: string } | { rule: string; error: string }): Pick<ConnectionRecord, 'allowed' | 'rule' | 'error' | 'suggest'> {
  if ('refused' in opened) return { allowed: false, rule: opened.refused, ...(opened.suggest ? { suggest: opened.suggest } : {}) };
  return { allowed: true, rule: opened.rule, error: opened.error };
}

function withTimeout<T>(promise: Promise<T>, ms: number, code: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(code), { code })), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
