import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A unix socket in front of the real Docker engine that a test can switch off and on:
 * to the worker behind it (DOCKER_HOST), Docker goes away and comes back, while the
 * engine itself keeps serving the other tests.
 */
export class DockerSocketGate {
  readonly socketPath = join(mkdtempSync(join(tmpdir(), 'outpost-dockerproxy-')), 'docker.sock');
  readonly #connections = new Set<Socket>();
  #server: Server | undefined;

  constructor(private readonly target = '/var/run/docker.sock') {}

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  async open(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    this.#server = createServer((client) => {
      const upstream = createConnection(this.target);
      this.#connections.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#connections.delete(client);
        this.#connections.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.socketPath, resolve));
  }

  /** Docker "stops": the socket refuses connections and open ones are cut. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const c of this.#connections) c.destroy();
    this.#connections.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}

/**
 * A Docker API in front of the real engine, on a unix socket, that rewrites what GET /info answers:
 * the worker behind it (DOCKER_HOST) meets another engine's description — rootless, a controller
 * missing — while every other call, attach and hijacked streams included, reaches the real engine.
 */
export class DockerInfoRewriter {
  readonly socketPath = join(mkdtempSync(join(tmpdir(), 'outpost-dockerinfo-')), 'docker.sock');
  readonly #server: HttpServer;
  readonly #sockets = new Set<Socket>();

  constructor(
    rewrite: (info: Record<string, unknown>) => Record<string, unknown>,
    private readonly target = '/var/run/docker.sock',
  ) {
    this.#server = createHttpServer((req, res) => {
      const upstream = httpRequest({ socketPath: this.target, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (req.method !== 'GET' || !/^(\/v[\d.]+)?\/info(\?|$)/.test(req.url ?? '')) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const body = JSON.stringify(rewrite(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
          const headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(body)) };
          delete headers['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 200, headers).end(body);
        });
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    // attach and exec hijack the connection (Upgrade: tcp): from there on, bytes both ways as they are.
    this.#server.on('upgrade', (req: IncomingMessage, client: Socket, head: Buffer) => {
      const upstream = createConnection(this.target, () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(req.headersDistinct).flatMap(([k, vs]) => (vs ?? []).map((v) => `${k}: ${v}`)), '', ''];
        upstream.write(lines.join('\r\n'));
        if (head.length) upstream.write(head);
        client.pipe(upstream).pipe(client);
      });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('error', () => (client.destroy(), upstream.destroy()));
        s.on('close', () => this.#sockets.delete(s));
      }
    });
    this.#server.on('connection', (s: Socket) => (this.#sockets.add(s), s.on('close', () => this.#sockets.delete(s))));
  }

  get dockerHost(): string {
    return `unix://${this.socketPath}`;
  }

  open(): Promise<void> {
    return new Promise((resolve) => this.#server.listen(this.socketPath, resolve));
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}
