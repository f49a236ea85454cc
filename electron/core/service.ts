import { hostname } from 'node:os';
import { calls, type Channel, type EventName, type EventPayload, type KeyRef, type Result, type Settings } from '../../shared/contract.js';
import type { WorkerState } from '../../shared/states.js';
import { Emitter } from './emitter.js';
import type { Logger } from './log.js';
import { InstanceRecord, type DataPaths } from './paths.js';
import { AnthropicProvider } from './providers/anthropic.js';
import { BridgeProvider } from './providers/bridge.js';
import type { DockerRuntime } from './runtime/docker.js';
import { KeychainUnavailableError, type SecretStore } from './secrets/secret-store.js';
import type { SettingsStore } from './settings.js';
import { Worker } from './worker/worker.js';

export type ServiceEvent = { [E in EventName]: { name: E; payload: EventPayload<E> } }[EventName];

export interface OutpostServiceOptions {
  paths: DataPaths;
  settings: SettingsStore;
  secrets: SecretStore;
  runtime: DockerRuntime;
  logger: Logger;
  /** Runs once before the worker's first claim (the desktop app builds the session image here). */
  prepare?: (image: string) => Promise<void>;
  /** Told after settings change (the desktop app applies start-at-login). */
  onSettingsChanged?: (settings: Settings) => void;
}

/** A refusal the user can act on; its message is shown as it is. */
class UserError extends Error {}

/**
 * Everything a view can ask of Outpost, behind the contract: one handler per call,
 * arguments parsed with the contract's schema, every reply an envelope. The desktop
 * app's IPC adapter and the headless dashboard's WebSocket both call `handle`.
 */
export class OutpostService {
  readonly events = new Emitter<ServiceEvent>();
  readonly #opts: OutpostServiceOptions;
  readonly #instance: InstanceRecord;
  readonly #installId: string;
  #settings: Settings;
  #worker: Worker | undefined;
  #detachWorker: (() => void) | undefined;
  /** Told once to whoever subscribes first: e.g. a settings file kept aside. */
  readonly startupNotices: string[] = [];

  constructor(opts: OutpostServiceOptions) {
    this.#opts = opts;
    this.#instance = new InstanceRecord(opts.paths);
    this.#installId = opts.paths.installId();
    const loaded = opts.settings.load();
    this.#settings = loaded.settings;
    if (loaded.problem) {
      opts.logger.error(loaded.problem);
      this.startupNotices.push(loaded.problem);
    }
    const pruned = opts.paths.pruneSessionFiles(this.#settings.logRetentionDays);
    if (pruned > 0) opts.logger.info(`removed the logs and workspaces of ${pruned} sessions older than ${this.#settings.logRetentionDays} days`);
  }

  get workerState(): WorkerState {
    return this.#worker?.state ?? { status: 'off' };
  }

  get activeSessions(): number {
    return this.#worker?.active ?? 0;
  }

  get settings(): Settings {
    return this.#settings;
  }

  /** Parse, dispatch, and wrap: never throws. */
  async handle(channel: string, raw: unknown): Promise<Result<unknown>> {
    if (!Object.hasOwn(calls, channel)) return { error: { code: 'invalid-request', message: `unknown call ${channel}` } };
    const spec = calls[channel as Channel];
    const parsed = spec.request.safeParse(raw ?? {});
    if (!parsed.success) return { error: { code: 'invalid-request', message: `${channel}: ${parsed.error.issues.map((i) => i.message).join('; ')}` } };
    try {
      return { result: await this.#dispatch(channel as Channel, parsed.data as never) };
    } catch (e) {
      if (e instanceof KeychainUnavailableError) return { error: { code: 'keychain-unavailable', message: e.message } };
      if (!(e instanceof UserError)) this.#opts.logger.error(`${channel} failed`, { error: (e as Error).message });
      return { error: { code: 'failed', message: (e as Error).message } };
    }
  }

  async #dispatch(channel: Channel, arg: never): Promise<unknown> {
    switch (channel) {
      case 'worker.state':
        return this.workerState;
      case 'worker.start':
        return this.startWorker().then(() => null);
      case 'worker.pause':
        return this.#worker?.pause() ?? null;
      case 'worker.resume':
        return this.#worker?.resume() ?? null;
      case 'worker.stop':
        return this.stopWorker((arg as { mode: 'drain' | 'now' }).mode).then(() => null);
      case 'items.list':
        return this.#worker?.items ?? [];
      case 'items.stop':
        return this.#worker?.stopItem((arg as { workId: string }).workId) ?? false;
      case 'settings.get':
        return this.#settings;
      case 'settings.update':
        this.#settings = this.#opts.settings.save(arg as Settings);
        this.#opts.onSettingsChanged?.(this.#settings);
        return this.#settings;
      case 'keys.status':
        return { set: (await this.#opts.secrets.get(arg as KeyRef)) !== null };
      case 'keys.set': {
        const { value, ...ref } = arg as KeyRef & { value: string };
        await this.#opts.secrets.set(ref as KeyRef, value.trim());
        return null;
      }
      case 'keys.clear':
        await this.#opts.secrets.delete(arg as KeyRef);
        return null;
    }
  }

  /** Serve the chosen environment with its key from the keychain. */
  async startWorker(): Promise<void> {
    const status = this.workerState.status;
    if (status !== 'off' && status !== 'error') return;
    const profile = this.#settings.environments.find((e) => e.environmentId === this.#settings.servedEnvironmentId);
    if (!profile) throw new UserError('Choose the environment this machine serves first.');
    const key = await this.#opts.secrets.get({ kind: 'environment-key', environmentId: profile.environmentId });
    if (!key) throw new UserError(`Set the environment key for ${profile.environmentId} first.`);
    this.#detachWorker?.();
    const { logger } = this.#opts;
    const provider =
      profile.provider === 'ainative' ?
        new BridgeProvider({
          baseURL: profile.baseUrl,
          environmentId: profile.environmentId,
          token: key,
          logger,
          interpreter: profile.interpreter,
          timeoutMs: profile.timeoutSeconds * 1000,
        })
      : new AnthropicProvider({
          baseURL: profile.baseUrl,
          environmentId: profile.environmentId,
          environmentKey: key,
          workerId: `${hostname()}-${this.#installId.slice(0, 8)}-${this.#instance.id.slice(0, 8)}`,
          logger,
        });
    const worker = new Worker({
      provider,
      runtime: this.#opts.runtime,
      paths: this.#opts.paths,
      logger: this.#opts.logger,
      installId: this.#installId,
      instanceId: this.#instance.id,
      maxSessions: profile.maxSessions,
      session: {
        image: profile.image,
        networkMode: profile.networkMode,
        limits: { cpus: profile.cpus, memoryMb: profile.memoryMb, pids: profile.pids },
        graceSeconds: profile.graceSeconds,
      },
      ...(this.#opts.prepare ? { prepare: () => this.#opts.prepare!(profile.image) } : {}),
    });
    this.#worker = worker;
    this.#detachWorker = worker.events.on((event) => {
      if (event.type === 'worker-state') this.events.fire({ name: 'worker-state', payload: event.state });
      else this.events.fire({ name: 'item-state', payload: event.item });
    });
    await worker.start();
    void worker.stopped.then(async () => {
      if (!worker.fatalError) return;
      // Polling failed for good (a wrong key, an unknown environment): stop what runs and say why.
      await worker.stopNow();
      this.events.fire({ name: 'notice', payload: { level: 'error', message: worker.fatalError.message } });
    });
  }

  sleep(): void {
    this.#worker?.sleep();
  }

  wake(): Promise<void> {
    return this.#worker?.wake() ?? Promise.resolve();
  }

  /** drain: stop claiming and wait (up to the drain period) for running sessions; now: stop them. */
  async stopWorker(mode: 'drain' | 'now'): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    const profile = this.#settings.environments.find((e) => e.environmentId === this.#settings.servedEnvironmentId);
    await (mode === 'now' ? worker.stopNow() : worker.shutdown((profile?.drainSeconds ?? 30) * 1000));
  }

  /** Stop everything and release what this process holds. */
  async dispose(): Promise<void> {
    await this.#worker?.stopNow();
    this.#detachWorker?.();
    this.#instance.dispose();
  }
}
