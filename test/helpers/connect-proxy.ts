import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A small HTTP proxy on loopback, as a corporate one is seen from a laptop: CONNECT tunnels (what
 * an HTTPS_PROXY client opens) and absolute-URI requests (plain HTTP_PROXY forwarding). It goes only
 * to loopback addresses (DESIGN §3) and records what it carried: each CONNECT target and, for plain
 * HTTP inside a tunnel or forwarded, each request line.
 */
export class LoopbackProxy {
  readonly connects: string[] = [];
  readonly requestLines: string[] = [];
  #server = createServer((client) => this.#serve(client));
  #sockets = new Set<Socket>();

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  #sniff(chunk: Buffer): void {
    for (const line of chunk.toString('latin1').split('\r\n')) if (/^(GET|POST|PUT|DELETE|PATCH|HEAD) \S+ HTTP\/1\.[01]$/.test(line)) this.requestLines.push(line);
  }

  #serve(client: Socket): void {
    this.#track(client);
    client.once('data', (first: Buffer) => {
      const head = first.toString('latin1');
      const [method, target] = head.split('\r\n')[0]!.split(' ');
      const connectTo = method === 'CONNECT' ? target! : new URL(target!).host;
      const [host, portText] = connectTo.startsWith('[') ? [connectTo.slice(1, connectTo.indexOf(']')), connectTo.split(']:')[1]] : connectTo.split(':');
      if (!/^127\.\d+\.\d+\.\d+$|^::1$|^localhost$/.test(host!)) {
        client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      const upstream = connect(Number(portText ?? 80), host!);
      this.#track(upstream);
      upstream.on('error', () => client.destroy());
      if (method === 'CONNECT') {
        this.connects.push(connectTo);
        upstream.once('connect', () => client.write('HTTP/1.1 200 Connection Established\r\n\r\n'));
      } else {
        // Forwarded: the request line back to origin form.
        this.#sniff(first);
        upstream.write(head.replace(/^(\S+) https?:\/\/[^/\s]+/, '$1'));
      }
      client.on('data', (chunk: Buffer) => {
        this.#sniff(chunk);
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      upstream.on('end', () => client.end());
      client.on('end', () => upstream.end());
    });
  }
}
