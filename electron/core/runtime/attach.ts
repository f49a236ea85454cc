import type Docker from 'dockerode';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';

/** How long the engine may take to answer an attach. */
const ATTACH_TIMEOUT_MS = 30_000;

/**
 * Attach to a container's output, and with `stdin` also its input (best before it starts), as the
 * docker CLI does: `POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1` with
 * `Upgrade: tcp` and an empty body. dockerode sends its options as a JSON body too, and Podman hands
 * that body to the container's stdin, ahead of anything Outpost writes; without stdin, docker-modem
 * holds a chunked request's headers until a first write, so the body must be empty by length.
 * The engine is the one `docker` (dockerode's modem) talks to: a unix socket, or tcp with its TLS files.
 */
export async function openAttach(docker: Docker, containerId: string, opts: { stdin?: boolean } = {}): Promise<Socket> {
  const modem = docker.modem as Docker['modem'] & { socketPath?: unknown; getSocketPath?: () => Promise<string | undefined>; host?: string; port?: number | string; protocol?: string; version?: string; ca?: unknown; cert?: unknown; key?: unknown };
  const query = `stream=1&stdout=1&stderr=1${opts.stdin ? '&stdin=1' : ''}`;
  const path = `${modem.version ? `/${modem.version}` : ''}/containers/${encodeURIComponent(containerId)}/attach?${query}`;
  const headers = { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': 'text/plain', 'Content-Length': '0' };
  const https = modem.protocol === 'https';
  // docker-modem may hold a function that finds the socket (Docker Desktop's, say), and gives its answer here.
  const socketPath = modem.socketPath ? await (modem.getSocketPath?.() ?? Promise.resolve(modem.socketPath as string)) : undefined;
  const target = socketPath
    ? { socketPath }
    : { host: modem.host, port: modem.port, ...(https ? { ca: modem.ca, cert: modem.cert, key: modem.key } : {}) };
  return new Promise<Socket>((resolve, reject) => {
    const req: ClientRequest = (https ? httpsRequest : httpRequest)({ ...target, method: 'POST', path, headers } as unknown as Parameters<typeof httpRequest>[0]);
    const timer = setTimeout(() => req.destroy(new Error(`the engine did not answer the attach to ${containerId} within ${ATTACH_TIMEOUT_MS / 1000} s`)), ATTACH_TIMEOUT_MS);
    const hijacked = (socket: Socket, head: Buffer) => {
      clearTimeout(timer);
      if (head.length) socket.unshift(head);
      resolve(socket);
    };
    req.once('upgrade', (_res: IncomingMessage, socket: Socket, head: Buffer) => hijacked(socket, head));
    req.once('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body = (body + c).slice(0, 500)));
      res.once('end', () => reject(new Error(`the engine refused to attach to ${containerId}: ${res.statusCode} ${body.trim()}`)));
    });
    req.once('error', (e) => (clearTimeout(timer), reject(e)));
    req.end();
  });
}
