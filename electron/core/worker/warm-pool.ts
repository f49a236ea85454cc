import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import type { Logger } from '../logs/log.js';
import type { DataPaths } from '../store/paths.js';
import { checkedName } from '../store/paths.js';
import type { SessionRuntime, WarmSession } from '../runtime/session-runtime.js';
import type { EgressPath } from '../runtime/session-egress.js';
import { HANDOVER_KEEPER, HANDOVER_LABEL, KEEPER_ENTRYPOINT, LABEL, takesHandover } from '../runtime/labels.js';
import { sessionUser } from '../runtime/workspace.js';
import type { SessionSettings } from './session-settings.js';

const RETRY_FIRST_MS = 2_000;
/**
 * How often the pool checks that its image was not rebuilt under the same tag (one inspect). Checked
 * here rather than at the claim, where it cost 5–90 ms on a loaded machine in series with the handover.
 */
const IMAGE_CHECK_MS = 2_000;
const RETRY_MAX_MS = 60_000;
/**
 * Warm containers that end on their own (an engine where the session cannot write its workspace, an
 * image whose keeper fails) are replaced after a pause that doubles each time, up to 5 minutes: the pool
 * never crash-loops. It starts over once a warm container is handed an item, or lived a minute.
 */
const ENDED_FIRST_MS = 1_000;
const ENDED_MAX_MS = 5 * 60_000;
const STABLE_MS = 60_000;
/** How much of what an ended warm container printed the user is told (its last bytes: where a failure says why). */
const ENDED_OUTPUT_BYTES = 2_000;

export interface WarmPoolOptions {
  runtime: SessionRuntime;
  paths: DataPaths;
  logger: Logger;
  installId: string;
  instanceId: string;
  environmentId: string;
  settings: SessionSettings;
  /** How many containers to keep warm at most (--warm). */
  size: number;
}

/**
 * A container started before its item was claimed: created, started, its runner booted
 * and its keeper waiting on stdin, with an empty environment and no work id. Its workspace and log are made
 * under its warm name; `adopt` gives them, and the container's name, to the item it is handed.
 */
export class WarmContainer {
  readonly #workspace: string;
  #logFile: string;
  #adopted = false;
  readonly startedAt = Date.now();

  constructor(
    readonly warmName: string,
    readonly imageId: string,
    readonly container: WarmSession,
    private readonly paths: DataPaths,
    /** The environment the pool serves: its items' files are named by it too (paths.ts sessionKey). */
    private readonly environmentId: string,
    /** Under `api` and `allowlist`: its sidecar and proxy, waiting with it, bound to the item at the handover. */
    readonly egress?: EgressPath,
  ) {
    this.#workspace = paths.workspace(environmentId, warmName);
    this.#logFile = paths.sessionLog(environmentId, warmName);
  }

  /** Docker's own record names the item from here on (`docker ps`, events): one rename, ~6 ms, beside the first heartbeat. */
  rename(workId: string): Promise<void> {
    return this.container.rename(`outpost-${checkedName(workId)}-${randomBytes(3).toString('hex')}`);
  }

  /**
   * The workspace and log become the item's. The log (written here, not mounted) is renamed: its open
   * file follows. The workspace is not moved while the container has it mounted — behind a VM's file
   * share that would take it from the container — but linked (paths.ts linkWorkspace), and settled
   * under the item's name once the container is gone. False when the item already has either (handed
   * out to us before): the caller starts it cold instead, so nothing of the earlier run is overwritten.
   */
  adoptFiles(environmentId: string, workId: string): boolean {
    const logFile = this.paths.sessionLog(environmentId, workId);
    if (existsSync(logFile) || !existsSync(this.#workspace) || !existsSync(this.#logFile)) return false;
    if (!this.paths.linkWorkspace(environmentId, workId, this.warmName)) return false;
    this.#adopted = true;
    renameSync(this.#logFile, logFile);
    this.#logFile = logFile;
    return true;
  }

  /** The last `maxBytes` of its log (once removed: the log is flushed by then), or '' when there is none. */
  printed(maxBytes: number): string {
    let fd: number | undefined;
    try {
      fd = openSync(this.#logFile, 'r');
      const size = fstatSync(fd).size;
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return (size > length ? '…' : '') + buffer.toString('utf8').trim();
    } catch {
      return '';
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Remove the container, and its workspace and log unless an item adopted them. */
  async discard(): Promise<void> {
    await this.container.remove();
    await this.egress?.close();
    if (!this.#adopted) removeWarmFiles(this.paths, this.environmentId, this.warmName);
  }
}

/** A warm container's files while no item has them (also startup recovery's, for a warm container left by a dead process). */
export function removeWarmFiles(paths: DataPaths, environmentId: string, warmName: string): void {
  rmSync(paths.workspace(environmentId, warmName), { recursive: true, force: true });
  rmSync(paths.sessionLog(environmentId, warmName), { force: true });
}

interface Entry {
  ready: Promise<WarmContainer | undefined>;
  container?: WarmContainer;
}

/**
 * The warm pool of one served environment profile: up to `size` warm containers, as many
 * as the worker's `target` allows — it counts them against --max-sessions, and sets 0 on pause, sleep
 * and shutdown, which discards them. A claim `take`s one (ready, or still starting); the worker then
 * sets a new target and the pool refills in the background. Only an image whose entrypoint is
 * Outpost's keeper, which takes a handover on stdin (labels.ts takesHandover), is kept warm; any other
 * starts cold, as before.
 */
export class WarmPool {
  readonly #opts: WarmPoolOptions;
  #entries: Entry[] = [];
  #target = 0;
  /** Removals and starts under way: `settled` waits for them (shutdown leaves no container behind). */
  readonly #pending = new Set<Promise<unknown>>();
  /** Entries leave the list two ways: taken by a claim, or discarded (marked here). */
  readonly #discarded = new WeakSet<Entry>();
  readonly #exited = new WeakSet<WarmContainer>();
  #retryMs = 0;
  #endedMs = 0;
  #toldEnded = false;
  #retrying = false;
  #unsupported = false;
  #imageCheck: NodeJS.Timeout | undefined;

  constructor(opts: WarmPoolOptions) {
    this.#opts = opts;
  }

  /** The warm names of the containers waiting now: retention leaves their workspaces and logs alone. */
  get warmNames(): string[] {
    return this.#entries.flatMap((e) => (e.container ? [e.container.warmName] : []));
  }

  /** How many warm containers there may be now (never more than the pool's size). Extra ones are discarded. */
  target(n: number): void {
    this.#target = Math.min(n, this.#opts.size);
    while (this.#entries.length > this.#target) this.#discard(this.#entries.pop()!);
    this.#fill();
    if (this.#target > 0 && !this.#imageCheck) (this.#imageCheck = setInterval(() => void this.#checkImage(), IMAGE_CHECK_MS)).unref();
    if (this.#target === 0 && this.#imageCheck) {
      clearInterval(this.#imageCheck);
      this.#imageCheck = undefined;
    }
  }

  /** A warm container for a claimed session, or undefined (none: start cold). The caller owns it from here. */
  take(): Promise<WarmContainer | undefined> | undefined {
    const entry = this.#entries.shift();
    if (!entry) return undefined;
    // A container that failed to start or exited on its own is no use: cold it is.
    return entry.ready.then((warm) => {
      if (!warm || this.#exited.has(warm)) return undefined;
      this.#endedMs = 0; // One lived to serve: the next that ends is replaced after the first pause again.
      return warm;
    });
  }

  /** Everything the pool started or removes is done (after `target(0)`: no warm container is left). */
  async settled(): Promise<void> {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p)).catch(() => {});
    return p;
  }

  /** The image was rebuilt under the same tag: containers of the old one are discarded, new ones started. */
  async #checkImage(): Promise<void> {
    const image = await this.#opts.runtime.imageInfo(this.#opts.settings.image).catch(() => undefined);
    if (image === undefined) return; // Docker did not answer: the next check, or the claim's cold path, will tell
    const stale = this.#entries.filter((e) => e.container && e.container.imageId !== image?.id);
    if (!stale.length) return;
    this.#opts.logger.info(`image ${this.#opts.settings.image} changed; discarding the warm containers of the old one`, { containers: stale.length });
    for (const entry of stale) {
      this.#drop(entry);
      this.#discard(entry);
    }
    this.#fill();
  }

  #fill(): void {
    if (this.#unsupported || this.#retrying) return;
    while (this.#entries.length < this.#target) {
      const entry: Entry = { ready: Promise.resolve(undefined) };
      entry.ready = this.#track(this.#startOne(entry));
      this.#entries.push(entry);
    }
  }

  async #startOne(entry: Entry): Promise<WarmContainer | undefined> {
    const { runtime, paths, logger, settings } = this.#opts;
    const warmName = `warm-${randomBytes(6).toString('hex')}`;
    let egress: EgressPath | undefined;
    try {
      const image = await runtime.imageInfo(settings.image);
      if (!image) throw new Error(`image ${settings.image} is not on this machine`);
      if (!takesHandover(image)) {
        this.#unsupported = true;
        logger.info(`image ${settings.image} takes no handover (label ${HANDOVER_LABEL}=${HANDOVER_KEEPER}, entrypoint ${KEEPER_ENTRYPOINT}): its sessions start cold`);
        this.#drop(entry);
        return undefined;
      }
      const labels = {
        [LABEL.warm]: warmName,
        [LABEL.environmentId]: this.#opts.environmentId,
        [LABEL.instance]: this.#opts.instanceId,
        [LABEL.install]: this.#opts.installId,
      };
      // The pair waits together: its sidecar and proxy (refusing everything until the handover binds the item's rules).
      egress = await runtime.openEgressPath({
        settings: settings.egress ?? { policy: 'open', allowHosts: [] },
        openNetworkMode: settings.networkMode,
        ...(settings.egress?.environmentUrl ? { apiBaseUrl: settings.egress.environmentUrl } : {}),
        name: `outpost-${warmName}-egress`,
        labels,
        user: sessionUser(false),
      });
      const container = await runtime.startWarm({
        image: settings.image,
        name: `outpost-${warmName}`,
        labels,
        workspaceDir: paths.workspace(this.#opts.environmentId, warmName),
        user: sessionUser(settings.allowRoot ?? false),
        logFile: paths.sessionLog(this.#opts.environmentId, warmName),
        networkMode: egress.networkMode,
        egressEnv: egress.env,
        ...(settings.mounts?.requested.length ? { readOnlyMounts: settings.mounts } : {}),
        limits: settings.limits,
        onLogError: (e) => logger.error('cannot write a warm container’s log', { container: warmName, error: e.message }),
      });
      const warm = new WarmContainer(warmName, image.id, container, paths, this.#opts.environmentId, egress);
      entry.container = warm;
      this.#retryMs = 0;
      void container.exited.then(() => this.#exitedOnItsOwn(entry, warm));
      // No longer wanted while it started (a pause, a lower target): gone at once. Taken: the claim's.
      if (this.#discarded.has(entry)) {
        await warm.discard();
        return undefined;
      }
      return warm;
    } catch (e) {
      await egress?.close().catch(() => {});
      removeWarmFiles(paths, this.#opts.environmentId, warmName);
      this.#drop(entry);
      this.#retryMs = Math.min(RETRY_MAX_MS, this.#retryMs ? this.#retryMs * 2 : RETRY_FIRST_MS);
      logger.warn('could not start a warm container; sessions start cold meanwhile', { error: (e as Error).message, retry_ms: this.#retryMs });
      this.#retryLater(this.#retryMs);
      return undefined;
    }
  }

  #discard(entry: Entry): void {
    this.#discarded.add(entry);
    // Still starting: #startOne discards it once it has started.
    if (entry.container) void this.#track(entry.container.discard()).catch((e: Error) => this.#opts.logger.warn('could not remove a warm container', { error: e.message }));
  }

  #drop(entry: Entry): void {
    this.#discarded.add(entry);
    this.#entries = this.#entries.filter((e) => e !== entry);
  }

  /**
   * A warm runner that ended before any handover (it crashed, Docker restarted): replaced after a pause
   * that doubles while they keep ending (sessions start cold meanwhile). The first time, the user is
   * told what it printed — why it ended is there — and later ones are logged in one line each.
   */
  #exitedOnItsOwn(entry: Entry, warm: WarmContainer): void {
    this.#exited.add(warm);
    if (!this.#entries.includes(entry)) return;
    const { logger } = this.#opts;
    this.#drop(entry);
    if (Date.now() - warm.startedAt >= STABLE_MS) this.#endedMs = 0;
    this.#endedMs = Math.min(ENDED_MAX_MS, this.#endedMs ? this.#endedMs * 2 : ENDED_FIRST_MS);
    const retryMs = this.#endedMs;
    const tell = !this.#toldEnded;
    this.#toldEnded = true;
    const discarded = (async () => {
      await warm.container.remove();
      if (tell) {
        logger.warn(`a warm container ended on its own; sessions start cold until one stays up (tried again after a pause that doubles, up to ${ENDED_MAX_MS / 60_000} minutes). It printed:\n${warm.printed(ENDED_OUTPUT_BYTES) || '(nothing)'}`, {
          container: warm.warmName,
          retry_ms: retryMs,
        });
      } else {
        logger.warn('a warm container ended on its own; replacing it after a pause', { container: warm.warmName, retry_ms: retryMs });
      }
      await warm.discard();
    })();
    void this.#track(discarded).catch(() => {});
    this.#retryLater(retryMs);
  }

  #retryLater(delayMs: number): void {
    if (this.#retrying) return;
    this.#retrying = true;
    // Unref'd: a pool waiting to retry keeps no process alive.
    setTimeout(() => {
      this.#retrying = false;
      this.#fill();
    }, delayMs).unref();
  }
}

/**
 * Whether a profile's sessions can wait warm: under every policy (`api` and `allowlist` with their
 * sidecar, bound to the item at the handover), unless the environment has variables — they may be
 * secrets, and a warm container holds none; those start cold.
 */
export function canWaitWarm(settings: SessionSettings): boolean {
  return !settings.env || Object.keys(settings.env).length === 0;
}
