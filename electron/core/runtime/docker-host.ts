/**
 * Why the Docker engine an endpoint names cannot serve, or undefined when it can. Outpost runs
 * sessions on this machine's engine: their workspaces, logs' folders and egress sockets are folders
 * here, bind-mounted by path. An engine over ssh:// is another machine's, and the headless worker's
 * bundle leaves docker-modem's ssh transport out (scripts/build-worker.mjs): refused at start, in
 * words, rather than failing at the first container. `from` says where the endpoint came from, and the
 * fix follows it.
 */
export function unsupportedDockerHost(value = process.env['DOCKER_HOST'], from: { named: string; fix: string } = FROM_DOCKER_HOST): string | undefined {
  // docker-modem reads the scheme through URL, which ignores case and leading blanks.
  if (!value || !/^ssh:\/\//i.test(value.trim())) return undefined;
  // The value itself is not repeated: ssh://user:password@host is possible.
  return `${from.named}${from.named.endsWith('=') ? '' : ' '}ssh://… is not supported: Outpost runs sessions on this machine’s Docker engine (their folders are bind-mounted from here). ${from.fix}`;
}

const FROM_DOCKER_HOST = { named: 'DOCKER_HOST=', fix: 'Unset DOCKER_HOST, or set it to this machine’s engine (unix:///var/run/docker.sock).' };
