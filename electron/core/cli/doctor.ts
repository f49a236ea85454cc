import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import { EXIT_USAGE, prepareDataDir } from './args.js';
import { terminal } from './terminal.js';
import { openEngine } from '../runtime/engine.js';
import { describeEngine, engineLine, type EngineDescription } from '../runtime/engine-info.js';
import { EGRESS_PORT } from '../runtime/egress-sidecar.js';
import { engineHostPath } from '../runtime/host-path.js';
import { SESSION_IMAGE } from '../runtime/labels.js';
import { openSessionEgress } from '../runtime/session-egress.js';
import { prepareWorkspace, sessionUser, type SessionUser } from '../runtime/workspace.js';
import { containerIdentity, identityWords, userMapping, usernsMode, type ContainerIdentity } from '../runtime/user-mapping.js';
import { KeytarSecretStore } from '../secrets/keytar-store.js';
import { defaultDataDir } from '../store/data-folder.js';

export const DOCTOR_USAGE = `Usage: outpost doctor [--docker-host URL] [--data-dir DIR] [--no-keychain]

Checks, one line each, what sessions need on this machine: which Docker engine and how it was found;
rootless or not, and the limits it enforces; the session image is there; a session container starts
(no network); a session can write its workspace and you can read what it wrote; the data folder is
on a file system the engine can share; the egress path carries a connection end to end (allowlist);
the system keychain answers. ✔ or ✘ with the fix; exit 0 only when all pass.
--no-keychain skips the keychain: a headless worker given its key by OUTPOST_ENVIRONMENT_KEY or
--environment-key-file never opens one (the desktop app and the dashboard's setup do).
`;

/** Containers the doctor starts carry this label, and are removed before it ends. */
const DOCTOR_LABEL = 'outpost.doctor';
const IMAGE = `${SESSION_IMAGE}:latest`;

interface Check {
  ok: boolean;
  line: string;
}

/** `outpost doctor`: every check runs (one failing does not hide the others), unless the engine itself does not answer. */
export async function doctorCommand(argv: string[]): Promise<number> {
  let values: { 'docker-host'?: string; 'data-dir'?: string; 'no-keychain'?: boolean; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { 'docker-host': { type: 'string' }, 'data-dir': { type: 'string' }, 'no-keychain': { type: 'boolean' }, help: { type: 'boolean' } }, strict: true }).values;
  } catch (e) {
    terminal.err(`outpost: ${(e as Error).message}\n\n${DOCTOR_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    terminal.out(DOCTOR_USAGE);
    return 0;
  }
  const checks: Check[] = [];
  const say = (check: Check) => {
    checks.push(check);
    terminal.out(`${check.ok ? '✔' : '✘'} ${check.line}\n`);
  };
  const failed = () => checks.some((c) => !c.ok);

  const engine = openEngine({ flag: values['docker-host'] });
  if ('problem' in engine) {
    say({ ok: false, line: `Docker engine: ${engine.problem}` });
    return 1;
  }
  const { docker, endpoint } = engine;
  let description: EngineDescription;
  try {
    description = await describeEngine(docker);
    say({ ok: true, line: `Docker engine: ${engineLine(description, endpoint.host, endpoint.foundBy)}` });
  } catch (e) {
    say({
      ok: false,
      line: `Docker engine: nothing answers at ${endpoint.host} (found by ${endpoint.foundBy}): ${(e as Error).message}. Start Docker (Docker Desktop, Colima, OrbStack, Podman's API, or dockerd), or name the engine with --docker-host or DOCKER_HOST.`,
    });
    return 1;
  }
  say(rootlessCheck(description));

  const hasImage = await docker
    .getImage(IMAGE)
    .inspect()
    .then(() => true, () => false);
  say(hasImage ? { ok: true, line: `session image: ${IMAGE} is there` } : { ok: false, line: `session image: ${IMAGE} is not on this engine. Build it: outpost image build (or --offline), or let the worker build it on first use.` });

  const dataDir = values['data-dir'] ?? defaultDataDir();
  const dataDirProblem = prepareDataDir(dataDir);
  const user = sessionUser(false);
  const mapping = userMapping(description);
  const session: DoctorSession = { user, inside: containerIdentity(user, mapping), words: identityWords(user, mapping) };
  if (!hasImage) {
    say({ ok: false, line: 'session container, workspace, data folder and egress: not tried without the session image (above).' });
  } else if (dataDirProblem) {
    say({ ok: false, line: `data folder: ${dataDirProblem}` });
  } else {
    say(await containerStarts(docker, session));
    for (const check of await workspaceChecks(docker, session, dataDir)) say(check);
    say(await egressCheck(docker, session, dataDir));
  }

  if (values['no-keychain']) terminal.out('– keychain: not checked (--no-keychain); a worker given its key by OUTPOST_ENVIRONMENT_KEY or --environment-key-file needs none\n');
  else say(await keychainCheck());
  return failed() ? 1 : 0;
}

/** Who sessions are: on this machine (the workspace's owner) and in their containers. */
interface DoctorSession {
  user: SessionUser;
  inside: ContainerIdentity;
  words: string;
}

function rootlessCheck(d: EngineDescription): Check {
  if (d.unenforced.length) return { ok: false, line: `limits: ${d.unenforced.join('; ')}. Sessions run, unbounded by what is named.` };
  return { ok: true, line: `${d.rootless ? 'rootless' : 'rootful'} engine${!d.rootless && d.userNamespaces ? ' with user namespaces' : ''}; memory, CPU and process limits enforced` };
}

/** A container of the session image, as a session is made: its uid, no capability, no-new-privileges, no network. */
async function runSessionContainer(docker: Docker, inside: ContainerIdentity, script: string, opts: { binds?: string[]; networkMode?: string } = {}): Promise<{ code: number; output: string }> {
  const container = await docker.createContainer({
    name: `outpost-doctor-${randomBytes(4).toString('hex')}`,
    Image: IMAGE,
    Entrypoint: ['/bin/bash', '-c', script],
    Cmd: [],
    User: `${inside.uid}:${inside.gid}`,
    Labels: { [DOCTOR_LABEL]: '1' },
    WorkingDir: '/',
    HostConfig: {
      Init: true,
      NetworkMode: opts.networkMode ?? 'none',
      ...(inside.usernsMode ? { UsernsMode: usernsMode(inside, opts.networkMode) } : {}),
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ...(opts.binds ? { Binds: opts.binds } : {}),
    },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
    return { code: StatusCode, output: demux(logs).trim() };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

async function containerStarts(docker: Docker, session: DoctorSession): Promise<Check> {
  try {
    const { code, output } = await runSessionContainer(docker, session.inside, 'true');
    if (code === 0) return { ok: true, line: `session container: starts (${IMAGE}, ${session.words}, no network, every capability dropped)` };
    return { ok: false, line: `session container: ended with ${code}${output ? ` (${output.slice(0, 300)})` : ''}. Rebuild the session image: outpost image build.` };
  } catch (e) {
    return { ok: false, line: `session container: the engine would not start one: ${(e as Error).message}` };
  }
}

/**
 * A real workspace in the data folder, prepared as a session's is (runtime/workspace.ts) and
 * bind-mounted by the path the engine takes: a file written here must be seen inside (the data folder is
 * on a file system the engine shares), and the session's file must be readable here.
 */
async function workspaceChecks(docker: Docker, { user, inside, words }: DoctorSession, dataDir: string): Promise<Check[]> {
  const base = join(dataDir, `doctor-${randomBytes(4).toString('hex')}`);
  const workspace = join(base, 'workspace');
  const token = randomBytes(8).toString('hex');
  try {
    mkdirSync(base, { mode: 0o700 });
    prepareWorkspace(workspace, user, { 'from-host.txt': token });
    const { code, output } = await runSessionContainer(docker, inside, 'cat /workspace/from-host.txt; echo; echo "from the session" > /workspace/from-session.txt', {
      binds: [`${engineHostPath(workspace)}:/workspace`],
    });
    const shared: Check = output.includes(token) ?
      { ok: true, line: `data folder: ${dataDir} is shared with the engine (a file written here is seen in a container)` }
    : {
        ok: false,
        line: `data folder: ${dataDir} is not seen by the engine (the container found no file there${output ? `: ${output.slice(0, 200)}` : ''}). Share it with the engine (Docker Desktop: Settings → Resources → File sharing; Colima, Podman machine: mount it into the VM), or choose --data-dir under your home.`,
      };
    let written: string | undefined;
    try {
      written = readFileSync(join(workspace, 'from-session.txt'), 'utf8');
    } catch {
      written = undefined;
    }
    const writable: Check =
      code === 0 && written?.trim() === 'from the session' ?
        { ok: true, line: `workspace: a session (${words}) writes its workspace and you can read what it wrote` }
      : {
          ok: false,
          line: `workspace: a session could not write its workspace, or you cannot read what it wrote (exit ${code}${output ? `: ${output.slice(0, 200)}` : ''}). An engine that remaps users (userns-remap) maps the session's uid to another: use a rootful engine with your user in the docker group, or a rootless one.`,
        };
    return [shared, writable];
  } catch (e) {
    return [{ ok: false, line: `workspace: could not prepare one in ${dataDir}: ${(e as Error).message}` }];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * The egress path under `allowlist`, end to end: a session's forwarder sidecar (runtime/session-egress.ts)
 * carries one connection from a container in its network namespace, through the proxy at
 * 127.0.0.1:3128 there, over the engine's attach stream to this process's proxy, to a server of the
 * doctor's on this machine's loopback (allowed as the control plane's origin is).
 */
async function egressCheck(docker: Docker, { user, inside }: DoctorSession, dataDir: string): Promise<Check> {
  const token = randomBytes(8).toString('hex');
  const server: Server = createServer((_req, res) => res.end(`doctor ${token}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = join(dataDir, `doctor-${randomBytes(4).toString('hex')}`);
  mkdirSync(base, { mode: 0o700 });
  writeFileSync(join(base, 'log'), '');
  let egress: Awaited<ReturnType<typeof openSessionEgress>> | undefined;
  try {
    egress = await openSessionEgress({
      settings: { policy: 'allowlist', allowHosts: [], environmentUrl: url },
      openNetworkMode: 'none',
      apiBaseUrl: url,
      docker,
      name: `outpost-doctor-egress-${randomBytes(4).toString('hex')}`,
      labels: { [DOCTOR_LABEL]: '1' },
      user,
      ...(inside.usernsMode ? { usernsMode: inside.usernsMode } : {}),
      workId: 'doctor',
      logFile: join(base, 'log'),
      recordFile: join(base, 'connections.jsonl'),
    });
    // bash's /dev/tcp: the session image has bash whatever else it lacks; a proxy request names the URL whole.
    const request = `GET ${url}/ HTTP/1.1\\r\\nHost: ${url.slice('http://'.length)}\\r\\nConnection: close\\r\\n\\r\\n`;
    const { code, output } = await runSessionContainer(docker, inside, `exec 3<>/dev/tcp/127.0.0.1/${EGRESS_PORT} && printf '${request}' >&3 && cat <&3`, { networkMode: egress.networkMode });
    if (output.includes(`doctor ${token}`)) return { ok: true, line: 'egress: a connection went end to end under allowlist (session → forwarder → the attach stream → Outpost’s proxy → this machine)' };
    return { ok: false, line: `egress: the connection did not come through (exit ${code}${output ? `: ${output.slice(0, 300)}` : ''}). The engine's attach stream must carry the forwarder's traffic: see Security model → Egress in the README.` };
  } catch (e) {
    return { ok: false, line: `egress: could not open a session's egress path: ${(e as Error).message}` };
  } finally {
    await egress?.close().catch(() => {});
    server.close();
    rmSync(base, { recursive: true, force: true });
  }
}

async function keychainCheck(): Promise<Check> {
  try {
    // A read of an entry that may not exist: the answer (often none) is proof enough, and is never printed.
    await new KeytarSecretStore(process.env['OUTPOST_KEYCHAIN_SERVICE'] || 'Outpost').get({ kind: 'api-key' });
    return { ok: true, line: 'keychain: the system keychain answers' };
  } catch (e) {
    return {
      ok: false,
      line: `keychain: ${(e as Error).message} A headless worker given its key by OUTPOST_ENVIRONMENT_KEY or --environment-key-file needs none: run outpost doctor --no-keychain there.`,
    };
  }
}

/** A container's log without a TTY: frames of an 8-byte header (stream, 0, 0, 0, size) and the bytes. */
function demux(buffer: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= buffer.length; ) {
    const size = buffer.readUInt32BE(at + 4);
    parts.push(buffer.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
