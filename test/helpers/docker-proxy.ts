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
