import type Docker from 'dockerode';

/**
 * Attach to the container's output and, with `stdin`, its input: `POST /containers/{id}/attach` with
 * its options in the query string (Docker Engine API), an empty body (Content-Length: 0) and the
 * connection upgraded, as the docker CLI does. dockerode's own attach sends the options as a JSON body
 * too, and keeps a hijacked request's chunked body open: Podman's service hands that body to the
 * container's stdin, ahead of the handover (`{"stream":true,…,"hijack":true}{"ANTHROPIC_BASE_URL":…}`).
 * docker-modem sends a `file` as the body, by its length: an empty one is none. (Its Content-Type,
 * application/tar, goes with no byte.) What is written on it is framed after a marker even so (the
 * handover, handover-frame.ts; the egress stream, egress-sidecar.ts), found after any stray prefix.
 * The engine is reached as docker-modem reaches it: a unix socket, or tcp with its TLS files.
 */
export function openAttach(docker: Docker, container: Docker.Container, { stdin = false }: { stdin?: boolean } = {}): Promise<NodeJS.ReadWriteStream> {
  if (!stdin) return container.attach({ stream: true, stdout: true, stderr: true });
  return new Promise((resolve, reject) => {
    (docker.modem as DockerModemDial).dial(
      {
        path: `/containers/${container.id}/attach?`,
        method: 'POST',
        isStream: true,
        hijack: true,
        // docker-modem ends the request (its headers go out) only when it is not told to keep stdin open: the upgraded socket is stdin.
        openStdin: false,
        file: Buffer.alloc(0),
        statusCodes: { 101: true, 200: true, 404: 'no such container', 500: 'server error' },
        options: { _query: { stream: true, stdin: true, stdout: true, stderr: true } },
      },
      (err, stream) => (err || !stream ? reject(err ?? new Error('the engine answered the attach with no stream')) : resolve(stream)),
    );
  });
}

/** The one call of docker-modem's that `attach` makes (dockerode types the modem as any). */
interface DockerModemDial {
  dial(
    options: {
      path: string;
      method: 'POST';
      isStream: true;
      hijack: true;
      openStdin: false;
      file: Buffer;
      statusCodes: Record<number, true | string>;
      options: { _query: Record<string, boolean> };
    },
    callback: (err: Error | null, stream?: NodeJS.ReadWriteStream) => void,
  ): void;
}
