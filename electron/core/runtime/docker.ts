import Docker from 'dockerode';
import { createWriteStream, type WriteStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { openEgressPath, openSessionEgress, type EgressPath, type EgressPathOptions, type SessionEgress, type SessionEgressOptions } from './session-egress.js';
import { PRIVATE_FILE_MODE } from '../store/paths.js';
import { createContainer } from './create-container.js';
import { openAttach } from './attach.js';
import { frameHandover } from './handover-frame.js';
import { engineHostPath } from './host-path.js';
import { LABEL, SESSION_CAPABILITIES_VARIABLE, SESSION_USER_VARIABLE } from './labels.js';
import { CappedSink, DEFAULT_SESSION_LOG_LIMIT_BYTES, RedactingLines } from './session-log.js';
import type { ContainerSpec, ImageInfo, OutpostContainer, RunningSession, SessionRuntime, WarmSession, WarmSpec } from './session-runtime.js';
import { prepareWorkspace, type SessionUser } from './workspace.js';
import { reclaimWorkspace } from './workspace-reclaim.js';
import { askEngine } from './engine-report.js';
import { containerIdentity, ROOT_OUTPOST_FIX, rootOutpostProblem, userMapping, usernsMode, type UserMapping } from './user-mapping.js';

export type { ContainerLimits, ContainerSpec, OutpostContainer, WarmSpec } from './session-runtime.js';

/** Docker's reply when the engine is up, and the words for why it is not. */
export class DockerUnavailableError extends Error {
  override name = 'DockerUnavailableError';
}

/**
 * What a session that runs as root by the profile's choice gets back of Docker's default
 * capabilities: enough to own and manage the files of its own container (a package manager
 * that installs, chowns and drops to its own user). Never CAP_MKNOD (device nodes), CAP_SETFCAP,
 * CAP_NET_RAW or CAP_SYS_*. A session that is not root needs none: every capability is dropped.
 */
const ROOT_SESSION_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'];

/**
 * What a container whose entrypoint is Outpost's keeper (session/keeper.sh) gets back: the keeper runs
 * as root — so that the session's uid can neither signal nor ptrace it, nor open its descriptors and
 * with them the attach's stdin it watches — and needs SETUID and SETGID to start the runner as the
 * session's uid, KILL to pass docker stop's SIGTERM on to it. The runner loses all three at its setuid
 * and, under no-new-privileges, never gets them back: the session itself still has no capability.
 * Root without DAC_OVERRIDE or FOWNER cannot even read the session's 0700 workspace.
 */
const KEEPER_CAPABILITIES = ['KILL', 'SETGID', 'SETUID'];

/**
 * Under rootless Docker the session is the container's root (user-mapping.ts), so the keeper cannot drop
 * its capabilities by a change of uid: it drops the runner's bounding set instead, which takes SETPCAP.
 * The runner then execs as root with no capability, and no-new-privileges keeps it so.
 */
const MAPPED_ROOT_KEEPER_CAPABILITIES = [...KEEPER_CAPABILITIES, 'SETPCAP'];

/**
 * The Docker engine as Outpost uses it: one container per work item, labelled,
 * with an init process, limits, its own /workspace, and stdout/stderr streamed to
 * the session's log file as they come. The session is hostile (DESIGN §4): it runs as
 * spec.user with every capability dropped and no-new-privileges.
 */
export class DockerRuntime implements SessionRuntime {
  readonly docker: Docker;

  #mapping: Promise<UserMapping> | undefined;

  constructor(docker: Docker = new Docker()) {
    this.docker = docker;
  }

  /**
   * How this engine maps a session's uid: asked once it answers (within askEngine's deadline). No answer
   * fails this call and is not kept: a guess would run the session as a uid that cannot write its
   * workspace (or, taken as rootless on a rootful engine, as root), and the next start asks again.
   */
  userMapping(): Promise<UserMapping> {
    this.#mapping ??= askEngine(this.docker).then(
      (engine) => {
        const problem = rootOutpostProblem(engine);
        if (problem) throw new Error(`${problem} ${ROOT_OUTPOST_FIX}`);
        return userMapping(engine);
      },
      (e: Error) => {
        this.#mapping = undefined;
        throw new DockerUnavailableError(`the Docker engine did not say what it is: ${e.message}`);
      },
    );
    return this.#mapping;
  }

  /** Throws DockerUnavailableError with the engine's words when it does not answer. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw new DockerUnavailableError(`Docker is not reachable (${(e as Error).message})`);
    }
  }

  async hasImage(image: string): Promise<boolean> {
    return (await this.imageInfo(image)) !== null;
  }

  /** The image's id and labels, or null when it is not on this machine. */
  async imageInfo(image: string): Promise<ImageInfo | null> {
    try {
      const info = await this.docker.getImage(image).inspect();
      const entrypoint = info.Config?.Entrypoint;
      return { id: info.Id, labels: info.Config?.Labels ?? {}, entrypoint: typeof entrypoint === 'string' ? [entrypoint] : (entrypoint ?? []) };
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return null;
      throw e;
    }
  }

  /** Make sure `image` is here: use the local one, else pull it. Its id and labels, read by the same inspect. */
  async ensureImage(image: string, signal?: AbortSignal): Promise<ImageInfo> {
    const here = await this.imageInfo(image);
    if (here) return here;
    try {
      const stream = await this.docker.pull(image, { abortSignal: signal });
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
      );
    } catch (e) {
      throw new Error(`image ${image} is not on this machine and could not be pulled: ${(e as Error).message}`);
    }
    const pulled = await this.imageInfo(image);
    if (!pulled) throw new Error(`image ${image} was pulled but is not on this machine (removed meanwhile?)`);
    return pulled;
  }

  /**
   * Create and start the container; its output goes to spec.logFile from the first byte. With
   * spec.handover (an image whose entrypoint is the keeper: labels.ts takesHandover), its stdin is held
   * open and the handover written there at once: a container that did not take it is removed, and the
   * start fails in words.
   */
  async start(spec: ContainerSpec): Promise<SessionContainer> {
    const container = await this.#launch(spec, spec.handover !== undefined);
    if (spec.handover === undefined) return container;
    try {
      await container.handOver(spec.handover);
    } catch (e) {
      await container.remove().catch(() => {});
      throw new Error(`the session container did not take its item on stdin (its runner ended at start?): ${(e as Error).message}; the container was removed`);
    }
    return container;
  }

  /**
   * Create and start a warm container (its image's entrypoint is the keeper): no item, an empty
   * environment, and its stdin held open so that SessionContainer.handOver can give it one later,
   * outside its environment.
   */
  startWarm({ egressEnv, ...spec }: WarmSpec): Promise<SessionContainer> {
    return this.#launch({ ...spec, env: egressEnv ?? {} }, true);
  }

  /**
   * `keeper`: the image's entrypoint is Outpost's keeper, which takes the handover on stdin. The
   * container then starts as root with KEEPER_CAPABILITIES, told who to run the session as; any other
   * starts as the session's uid itself.
   */
  async #launch(spec: ContainerSpec, keeper: boolean): Promise<SessionContainer> {
    // Judged now, not when the worker started: a folder swapped for a symlink since is judged by where it leads today.
    const readOnlyMounts = spec.readOnlyMounts?.resolve() ?? [];
    prepareWorkspace(spec.workspaceDir, spec.user, spec.files);
    const root = spec.user.uid === 0;
    const inside = containerIdentity(spec.user, await this.userMapping());
    const user = `${inside.uid}:${inside.gid}`;
    const env = { ...spec.env, ...(keeper ? { [SESSION_USER_VARIABLE]: user, ...(inside.mappedRoot ? { [SESSION_CAPABILITIES_VARIABLE]: 'none' } : {}) } : {}) };
    const { container, warnings } = await createContainer(this.docker, {
      name: spec.name,
      Image: spec.image,
      User: keeper ? '0:0' : user,
      Labels: spec.labels,
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: '/workspace',
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      // StdinOnce: stdin closes when Outpost's attach does, and the keeper then ends the container: a session handed its item this way ends when its Outpost dies.
      ...(keeper ? { OpenStdin: true, StdinOnce: true, AttachStdin: true } : {}),
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        Init: true,
        // Outpost reads the output by attach and keeps it in the session log: Docker's own json-file
        // copy would be a second one with no cap. Attach still delivers with the driver none
        // (test/integration/session-log-cap.test.ts).
        LogConfig: { Type: 'none', Config: {} },
        Binds: [`${engineHostPath(spec.workspaceDir)}:/workspace`],
        ...(readOnlyMounts.length ? { Mounts: readOnlyMounts.map((m) => ({ Type: 'bind' as const, Source: engineHostPath(m.source), Target: m.target, ReadOnly: true })) } : {}),
        NetworkMode: spec.networkMode,
        SecurityOpt: ['no-new-privileges'],
        CapDrop: ['ALL'],
        ...(inside.usernsMode ? { UsernsMode: usernsMode(inside, spec.networkMode) } : {}),
        ...(root ? { CapAdd: ROOT_SESSION_CAPABILITIES }
        : keeper ? { CapAdd: inside.mappedRoot ? MAPPED_ROOT_KEEPER_CAPABILITIES : KEEPER_CAPABILITIES }
        : {}),
        ...(spec.limits.cpus ? { NanoCpus: Math.round(spec.limits.cpus * 1e9) } : {}),
        ...(spec.limits.memoryMb ? { Memory: spec.limits.memoryMb * 1024 * 1024 } : {}),
        ...(spec.limits.pids ? { PidsLimit: spec.limits.pids } : {}),
      },
    });
    const log = createWriteStream(spec.logFile, { flags: 'a', mode: PRIVATE_FILE_MODE });
    log.on('error', (e) => spec.onLogError?.(e));
    // What the engine could not enforce of this container (a limit dropped) is the session log's first line: its reader sees it there.
    for (const warning of warnings) log.write(`outpost: the Docker engine warned when creating this container: ${warning}\n`);
    const capture = new OutputCapture(spec.captureBytes ?? 0);
    let input: NodeJS.WritableStream | undefined;
    try {
      // Attach before start so not one line printed at startup is missed. With stdin, the connection is hijacked: it also writes.
      const stream = await openAttach(this.docker, container, { stdin: keeper });
      if (keeper) input = stream as NodeJS.ReadWriteStream;
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      this.docker.modem.demuxStream(stream, stdout, stderr);
      const capped = new CappedSink(log, spec.limits.logMb ? spec.limits.logMb * 2 ** 20 : DEFAULT_SESSION_LOG_LIMIT_BYTES);
      const lines = { stdout: new RedactingLines(capped), stderr: new RedactingLines(capped) };
      // A session can print faster than the disk takes it: wait for the log to drain rather than
      // hold the difference in memory (Docker then holds the container's writes).
      const written = () => log.writableNeedDrain && !stream.isPaused() && (stream.pause(), log.once('drain', () => stream.resume()));
      // Past the cap the output is still read (the Bridge capture has its own cap), not filtered.
      stdout.on('data', (chunk: Buffer) => (capped.full || lines.stdout.write(chunk), capture.add('stdout', chunk), written()));
      stderr.on('data', (chunk: Buffer) => (capped.full || lines.stderr.write(chunk), capture.add('stderr', chunk), written()));
      // The log ends after the last byte of both streams has been written.
      let open = 2;
      const ended = () => --open === 0 && (lines.stdout.flush(), lines.stderr.flush(), log.end());
      stdout.on('end', ended);
      stderr.on('end', ended);
      stream.on('end', () => (stdout.end(), stderr.end()));
      await container.start();
    } catch (e) {
      log.end();
      await removeSurvivingRestarts(container).catch(() => {});
      throw e;
    }
    return new SessionContainer(container, log, capture, input, warnings);
  }

  /** Every container carrying this install's labels, running or not. */
  async listOutpostContainers(installId: string): Promise<OutpostContainer[]> {
    const list = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL.install}=${installId}`] },
    });
    return list.map((c) => ({ id: c.Id, labels: c.Labels, running: c.State === 'running' }));
  }

  /** CPU (percent of one core, over Docker's last sample) and memory in use, or null once the container is gone. */
  async usage(id: string): Promise<{ cpuPercent: number; memoryBytes: number } | null> {
    try {
      const s = (await this.docker.getContainer(id).stats({ stream: false })) as Docker.ContainerStats;
      const cpu = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
      const system = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
      const cores = s.cpu_stats.online_cpus || 1;
      const cache = (s.memory_stats.stats as Record<string, number> | undefined)?.['inactive_file'] ?? 0;
      return {
        cpuPercent: system > 0 && cpu > 0 ? (cpu / system) * cores * 100 : 0,
        memoryBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache),
      };
    } catch {
      return null;
    }
  }

  async openEgress(opts: Omit<SessionEgressOptions, 'docker'>): Promise<SessionEgress> {
    return openSessionEgress({ ...opts, ...(await this.#sidecarUserns(opts.user)), docker: this.docker });
  }

  async openEgressPath(opts: Omit<EgressPathOptions, 'docker'>): Promise<EgressPath> {
    return openEgressPath({ ...opts, ...(await this.#sidecarUserns(opts.user)), docker: this.docker });
  }

  /** The sidecar's user namespace is its session's (keep-id under rootless Podman): the session joins it. */
  async #sidecarUserns(user: SessionUser): Promise<{ usernsMode?: string }> {
    const mode = containerIdentity(user, await this.userMapping()).usernsMode;
    return mode ? { usernsMode: mode } : {};
  }

  async reclaimWorkspace(dir: string, owner: SessionUser, labels: Record<string, string>): Promise<void> {
    return reclaimWorkspace(this.docker, dir, containerIdentity(owner, await this.userMapping()), labels);
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 404) throw e;
    }
  }
}

/** One started container: wait for it, stop it (SIGTERM, grace, kill), kill it, remove it. */
export class SessionContainer implements WarmSession {
  readonly id: string;
  readonly #container: Docker.Container;
  readonly #log: WriteStream;
  readonly #capture: OutputCapture;
  readonly #input: NodeJS.WritableStream | undefined;
  readonly exited: Promise<number>;
  /** What the engine warned of when it created the container (a limit it cannot enforce). */
  readonly warnings: readonly string[];
  #hasExited = false;

  constructor(container: Docker.Container, log: WriteStream, capture: OutputCapture, input?: NodeJS.WritableStream, warnings: readonly string[] = []) {
    this.id = container.id;
    this.warnings = warnings;
    this.#container = container;
    this.#log = log;
    this.#capture = capture;
    this.#input = input;
    this.exited = container.wait().then(
      (r: { StatusCode: number }) => r.StatusCode,
      // The engine went away under us; the caller learns it from the exit code.
      () => -1,
    );
    void this.exited.then(() => (this.#hasExited = true));
  }

  /**
   * The item, for a container started with its stdin open (warm, or cold with a handover): one frame
   * on its stdin (handover-frame.ts; the keeper passes it to the runner), never in its environment, so
   * neither `docker inspect` nor its /proc/N/environ shows the token.
   */
  async handOver(values: Record<string, string>): Promise<void> {
    const input = this.#input;
    if (!input) throw new Error('this container was not started with its stdin open: it takes no handover');
    // The container ended and Docker closed the attach: a write would go nowhere (or never call back).
    // Once the container is known to have ended, Docker's closing of the attach may still be on its way.
    if (this.#hasExited || !input.writable) throw new Error('its stdin is closed');
    await new Promise<void>((resolve, reject) => input.write(frameHandover(values), (e) => (e ? reject(e) : resolve())));
  }

  /** Give the container its name for the item it serves (Docker's own record: `docker ps`, events). */
  async rename(name: string): Promise<void> {
    await this.#container.rename({ name });
  }

  /** What the container printed, kept apart (when the spec asked for it). */
  output(): { stdout: string; stderr: string; truncated: boolean } {
    return this.#capture.result();
  }

  /** SIGTERM, then SIGKILL after `graceSeconds` (Docker's own stop does exactly that). */
  async stop(graceSeconds: number): Promise<void> {
    try {
      await this.#container.stop({ t: graceSeconds });
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  async kill(): Promise<void> {
    try {
      await this.#container.kill();
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  /** Remove the container and wait for its log to be flushed. */
  async remove(): Promise<void> {
    await removeSurvivingRestarts(this.#container);
    await new Promise<void>((resolve) => {
      if (this.#log.closed) return resolve();
      this.#log.once('close', () => resolve());
      this.#log.end();
    });
  }
}

/**
 * Remove a container, riding out a Docker engine that is restarting: a container left
 * behind by a live Outpost would never be swept (startup recovery only takes the dead's).
 */
async function removeSurvivingRestarts(container: Docker.Container, attempts = 60): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await container.remove({ force: true, v: true });
      return;
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 404) return;
      // 409: removal already in progress; no status: the engine is not answering (restarting).
      if ((status !== undefined && status !== 409) || attempt >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

/** stdout and stderr kept in memory up to a cap each; past it, the rest is dropped and flagged. */
class OutputCapture {
  readonly #chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  readonly #sizes = { stdout: 0, stderr: 0 };
  #truncated = false;

  constructor(private readonly maxBytes: number) {}

  add(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    if (this.maxBytes === 0) return;
    const room = this.maxBytes - this.#sizes[stream];
    if (chunk.length > room) this.#truncated = true;
    if (room <= 0) return;
    const kept = chunk.subarray(0, room);
    this.#chunks[stream].push(kept);
    this.#sizes[stream] += kept.length;
  }

  result(): { stdout: string; stderr: string; truncated: boolean } {
    return {
      stdout: Buffer.concat(this.#chunks.stdout).toString('utf8'),
      stderr: Buffer.concat(this.#chunks.stderr).toString('utf8'),
      truncated: this.#truncated,
    };
  }
}

// 304: already stopped; 404: already gone; 409: not running. All mean "nothing left to stop".
function isGone(e: unknown): boolean {
  const code = (e as { statusCode?: number }).statusCode;
  return code === 304 || code === 404 || code === 409;
}
