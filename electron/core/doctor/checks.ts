import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { MachineCheck } from '../../../shared/contract.js';
import { createContainer } from '../runtime/create-container.js';
import type { EngineEndpoint } from '../runtime/engine.js';
import { engineLine, type EngineDescription } from '../runtime/engine-info.js';
import { askEngine } from '../runtime/engine-report.js';
import { EGRESS_PORT } from '../runtime/egress-sidecar.js';
import { engineHostPath } from '../runtime/host-path.js';
import { SESSION_IMAGE } from '../runtime/labels.js';
import { openSessionEgress } from '../runtime/session-egress.js';
import { prepareWorkspace, sessionUser, type SessionUser } from '../runtime/workspace.js';
import { containerIdentity, identityWords, ROOT_OUTPOST_FIX, rootOutpostProblem, userMapping, usernsMode, type ContainerIdentity } from '../runtime/user-mapping.js';
import type { SecretStore } from '../secrets/secret-store.js';

/**
 * What sessions need on this machine, checked for real — one list, run by `outpost doctor` (printed a
 * line each) and by the window's *Check this machine* (shown a row each). Every check runs (one failing
 * does not hide the others), unless the engine itself does not answer. The words differ by head only
 * where a fix names one's controls (a flag, or a place in the window).
 */
export interface MachineCheckOptions {
  head: 'cli' | 'window';
  engine: { endpoint: EngineEndpoint; docker: Docker } | { problem: string };
  /** The data folder sessions' workspaces live in; `dataDirProblem` when it cannot be made. */
  dataDir: string;
  dataDirProblem?: string | null | undefined;
  /** The keychain to ask; undefined: not checked (--no-keychain). */
  keychain: SecretStore | undefined;
  /** A session's limits: the engine's create warnings say which it would drop. */
  limits: { cpus: number; memoryMb: number; pids: number };
  /** Told each check as it is decided (the CLI prints it at once). */
  onCheck?: (check: MachineCheck) => void;
}

/** Containers the checks start carry this label, and are removed before they end. */
const DOCTOR_LABEL = 'outpost.doctor';
const IMAGE = `${SESSION_IMAGE}:latest`;

/** One check as the CLI prints it: ✔, ✘ or –, what was found, and the fix. */
export function checkLine(check: MachineCheck): string {
  const mark = check.status === 'ok' ? '✔' : check.status === 'fail' ? '✘' : '–';
  return `${mark} ${check.line}${check.fix ? ` ${check.fix}` : ''}`;
}

export async function checkMachine(opts: MachineCheckOptions): Promise<MachineCheck[]> {
  const checks: MachineCheck[] = [];
  const say = (check: MachineCheck) => {
    checks.push(check);
    opts.onCheck?.(check);
  };
  const window = opts.head === 'window';

  if ('problem' in opts.engine) {
    say({ topic: 'engine', status: 'fail', line: `Docker engine: ${opts.engine.problem}` });
    return checks;
  }
  const { docker, endpoint } = opts.engine;
  let description: EngineDescription;
  try {
    description = await askEngine(docker);
    say({ topic: 'engine', status: 'ok', line: `Docker engine: ${engineLine(description, endpoint.host, endpoint.foundBy)}` });
  } catch (e) {
    say({
      topic: 'engine',
      status: 'fail',
      line: `Docker engine: nothing answers at ${endpoint.host} (found by ${endpoint.foundBy}): ${(e as Error).message}.`,
      fix:
        'Start Docker (Docker Desktop, Colima, OrbStack, Podman’s API, or dockerd), or ' +
        (window ? 'choose another engine under Docker engine (Environments → This machine).' : 'name the engine with --docker-host or DOCKER_HOST.'),
    });
    return checks;
  }
  const rootless = rootOutpostProblem(description);
  if (rootless) {
    // Every check past here would fail for this one reason, each in other words.
    say({ topic: 'user', status: 'fail', line: `sessions: ${rootless}`, fix: window ? 'Run Outpost as the engine’s user, or choose a rootful engine under Docker engine (Environments → This machine).' : ROOT_OUTPOST_FIX });
    return checks;
  }
  say(limitsCheck(description));

  const hasImage = await docker
    .getImage(IMAGE)
    .inspect()
    .then(() => true, () => false);
  const user = sessionUser(false);
  const mapping = userMapping(description);
  const session: DoctorSession = { user, inside: containerIdentity(user, mapping), words: identityWords(user, mapping) };
  if (!hasImage && window) {
    // Not a fault in the window: the worker builds the image at its first start (runtime/session-image.ts).
    say({ topic: 'image', status: 'skipped', line: `session image: ${IMAGE} is not built yet; the worker builds it when it first starts` });
    say({ topic: 'container', status: 'skipped', line: 'session container, workspace, data folder and egress: checked once the session image is there (check again after the worker’s first start)' });
  } else if (!hasImage) {
    say({ topic: 'image', status: 'fail', line: `session image: ${IMAGE} is not on this engine.`, fix: 'Build it: outpost image build (or --offline), or let the worker build it on first use.' });
    say({ topic: 'container', status: 'fail', line: 'session container, workspace, data folder and egress: not tried without the session image (above).' });
  } else if (opts.dataDirProblem) {
    say({ topic: 'data-folder', status: 'fail', line: `data folder: ${opts.dataDirProblem}` });
  } else {
    say({ topic: 'image', status: 'ok', line: `session image: ${IMAGE} is there` });
    say(await containerStarts(docker, session, opts.limits));
    for (const check of await workspaceChecks(docker, session, opts.dataDir, window)) say(check);
    say(await egressCheck(docker, session, opts.dataDir));
  }

  if (!opts.keychain) say({ topic: 'keychain', status: 'skipped', line: 'keychain: not checked (--no-keychain); a worker given its key by OUTPOST_ENVIRONMENT_KEY or --environment-key-file needs none' });
  else say(await keychainCheck(opts.keychain, window));
  return checks;
}

/** Who sessions are: on this machine (the workspace's owner) and in their containers (runtime/user-mapping.ts). */
interface DoctorSession {
  user: SessionUser;
  inside: ContainerIdentity;
  words: string;
}

function limitsCheck(d: EngineDescription): MachineCheck {
  if (d.unenforced.length) return { topic: 'limits', status: 'fail', line: `limits: ${d.unenforced.join('; ')}.`, fix: 'Sessions run, unbounded by what is named.' };
  return { topic: 'limits', status: 'ok', line: `${d.rootless ? 'rootless' : 'rootful'} engine${!d.rootless && d.userNamespaces ? ' with user namespaces' : ''}; memory, CPU and process limits enforced` };
}

/** A container of the session image, as a session is made: its uid, no capability, no-new-privileges, no network. */
async function runSessionContainer(
  docker: Docker,
  inside: ContainerIdentity,
  script: string,
  opts: { binds?: string[]; networkMode?: string; limits?: MachineCheckOptions['limits'] } = {},
): Promise<{ code: number; output: string; warnings: string[] }> {
  const { container, warnings } = await createContainer(docker, {
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
      // A session's limits, as docker.ts gives them: an engine that would drop one says so in the create answer.
      ...(opts.limits ? { NanoCpus: Math.round(opts.limits.cpus * 1e9), Memory: opts.limits.memoryMb * 1024 * 1024, PidsLimit: opts.limits.pids } : {}),
    },
  });
  try {
    await container.start();
    const { StatusCode } = (await container.wait()) as { StatusCode: number };
    const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
    return { code: StatusCode, output: demux(logs).trim(), warnings };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

async function containerStarts(docker: Docker, { inside, words }: DoctorSession, limits: MachineCheckOptions['limits']): Promise<MachineCheck> {
  try {
    const { code, output, warnings } = await runSessionContainer(docker, inside, 'true', { limits });
    if (code !== 0) {
      return { topic: 'container', status: 'fail', line: `session container: ended with ${code}${output ? ` (${output.slice(0, 300)})` : ''}.`, fix: 'Rebuild the session image: outpost image build.' };
    }
    if (warnings.length) {
      return {
        topic: 'container',
        status: 'fail',
        line: `session container: starts, but the engine warned when it was created with a session's limits: ${warnings.map((w) => w.slice(0, 300)).join('; ')}`,
        fix: 'Sessions run without what the warning names: use an engine whose kernel has the cgroup controllers (rootful, or rootless on cgroup v2).',
      };
    }
    return { topic: 'container', status: 'ok', line: `session container: starts (${IMAGE}, ${words}, no network, every capability dropped, a session's limits taken without a warning)` };
  } catch (e) {
    return { topic: 'container', status: 'fail', line: `session container: the engine would not start one: ${(e as Error).message}` };
  }
}

/**
 * A real workspace in the data folder, prepared as a session's is (runtime/workspace.ts) and
 * bind-mounted by the path the engine takes: a file written here must be seen inside (the data folder is
 * on a file system the engine shares), and the session's file must be readable here.
 */
async function workspaceChecks(docker: Docker, { user, inside, words }: DoctorSession, dataDir: string, window: boolean): Promise<MachineCheck[]> {
  const base = join(dataDir, `doctor-${randomBytes(4).toString('hex')}`);
  const workspace = join(base, 'workspace');
  const token = randomBytes(8).toString('hex');
  try {
    mkdirSync(base, { mode: 0o700 });
    prepareWorkspace(workspace, user, { 'from-host.txt': token });
    const { code, output } = await runSessionContainer(docker, inside, 'cat /workspace/from-host.txt; echo; echo "from the session" > /workspace/from-session.txt', {
      binds: [`${engineHostPath(workspace)}:/workspace`],
    });
    const shared: MachineCheck = output.includes(token) ?
      { topic: 'data-folder', status: 'ok', line: `data folder: ${dataDir} is shared with the engine (a file written here is seen in a container)` }
    : {
        topic: 'data-folder',
        status: 'fail',
        line: `data folder: ${dataDir} is not seen by the engine (the container found no file there${output ? `: ${output.slice(0, 200)}` : ''}).`,
        fix: `Share it with the engine (Docker Desktop: Settings → Resources → File sharing; Colima, Podman machine: mount it into the VM)${window ? '' : ', or choose --data-dir under your home'}.`,
      };
    let written: string | undefined;
    try {
      written = readFileSync(join(workspace, 'from-session.txt'), 'utf8');
    } catch {
      written = undefined;
    }
    const writable: MachineCheck =
      code === 0 && written?.trim() === 'from the session' ?
        { topic: 'workspace', status: 'ok', line: `workspace: a session (${words}) writes its workspace and you can read what it wrote` }
      : {
          topic: 'workspace',
          status: 'fail',
          line: `workspace: a session could not write its workspace, or you cannot read what it wrote (exit ${code}${output ? `: ${output.slice(0, 200)}` : ''}).`,
          fix: 'An engine that remaps users (userns-remap) maps the session’s uid to another: use a rootful engine with your user in the docker group, or a rootless one.',
        };
    return [shared, writable];
  } catch (e) {
    return [{ topic: 'workspace', status: 'fail', line: `workspace: could not prepare one in ${dataDir}: ${(e as Error).message}` }];
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
async function egressCheck(docker: Docker, { user, inside }: DoctorSession, dataDir: string): Promise<MachineCheck> {
  const token = randomBytes(8).toString('hex');
  const server: Server = createServer((_req, res) => res.end(`doctor ${token}\n`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const base = join(dataDir, `doctor-${randomBytes(4).toString('hex')}`);
  let egress: Awaited<ReturnType<typeof openSessionEgress>> | undefined;
  try {
    mkdirSync(base, { mode: 0o700 });
    writeFileSync(join(base, 'log'), '');
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
    if (output.includes(`doctor ${token}`)) return { topic: 'egress', status: 'ok', line: 'egress: a connection went end to end under allowlist (session → forwarder → the attach stream → Outpost’s proxy → this machine)' };
    return {
      topic: 'egress',
      status: 'fail',
      line: `egress: the connection did not come through (exit ${code}${output ? `: ${output.slice(0, 300)}` : ''}).`,
      fix: "The engine's attach stream must carry the forwarder's traffic: see Security model → Egress in the README.",
    };
  } catch (e) {
    return { topic: 'egress', status: 'fail', line: `egress: could not open a session's egress path: ${(e as Error).message}` };
  } finally {
    await egress?.close().catch(() => {});
    server.close();
    rmSync(base, { recursive: true, force: true });
  }
}

async function keychainCheck(keychain: SecretStore, window: boolean): Promise<MachineCheck> {
  try {
    // A read of an entry that never exists and is never held in memory: the answer (none) is proof enough, and is never shown.
    await keychain.get({ kind: 'environment-key', environmentId: 'outpost-doctor' });
    return { topic: 'keychain', status: 'ok', line: 'keychain: the system keychain answers' };
  } catch (e) {
    return {
      topic: 'keychain',
      status: 'fail',
      line: `keychain: ${(e as Error).message}`,
      fix:
        window ?
          'The window keeps the keys it is given there; a headless worker given its key by OUTPOST_ENVIRONMENT_KEY or --environment-key-file needs none.'
        : 'A headless worker given its key by OUTPOST_ENVIRONMENT_KEY or --environment-key-file needs none: run outpost doctor --no-keychain there.',
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
