import {
  calls,
  type Channel,
  type EventName,
  type EventPayload,
  type HistoryEntry,
  type KeyRef,
  type LogSource,
  type Request,
  type Result,
  type Settings,
} from '../../shared/contract.js';
import type { ItemState, WorkerState } from '../../shared/states.js';
import { Emitter } from './emitter.js';
import { HistoryStore } from './history.js';
import { LogFile } from './logs/log-file.js';
import { Secret } from './secret.js';
import { listWorkspace, readWorkspaceFile } from './workspace-files.js';
import type { Logger } from './log.js';
import { InstanceRecord, type DataPaths } from './paths.js';
import { Account, AccountError } from './providers/anthropic/account.js';
import type { DockerRuntime } from './runtime/docker.js';
import { KeychainUnavailableError, type SecretStore } from './secrets/secret-store.js';
import type { SettingsStore } from './settings.js';
import { createWorker } from './worker/factory.js';
import type { Worker } from './worker/worker.js';

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
  /** Outpost's own log, viewable from the window. */
  appLogFile?: string;
}

const ENDED: ReadonlySet<ItemState['status']> = new Set(['finished', 'failed', 'lost']);

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
  readonly #history: HistoryStore;
  readonly #logs = new Map<string, LogFile>();
  #settings: Settings;
  #worker: Worker | undefined;
  #detachWorker: (() => void) | undefined;
  /** Told once to whoever subscribes first: e.g. a settings file kept aside. */
  readonly startupNotices: string[] = [];

  constructor(opts: OutpostServiceOptions) {
    this.#opts = opts;
    this.#instance = new InstanceRecord(opts.paths);
    this.#installId = opts.paths.installId();
    this.#history = new HistoryStore(opts.paths.root);
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
      case 'account.connect':
        return this.#connect(arg);
      case 'environments.list':
        return this.#withAccount((a) => a.environments((arg as Request<'environments.list'>).includeArchived ?? false));
      case 'environments.stats':
        return this.#withAccount((a) => a.stats((arg as Request<'environments.stats'>).environmentId));
      case 'environments.create':
        return this.#withAccount((a) => a.create((arg as Request<'environments.create'>).name));
      case 'environments.archive':
        return this.#withAccount((a) => a.archive((arg as Request<'environments.archive'>).environmentId));
      case 'items.usage':
        return this.#usage();
      case 'history.list':
        return this.#history.list();
      case 'logs.info':
        return this.#log((arg as Request<'logs.info'>).source).info();
      case 'logs.lines': {
        const { source, from, count } = arg as Request<'logs.lines'>;
        return this.#log(source).lines(from, count);
      }
      case 'logs.search': {
        const { source, query, limit } = arg as Request<'logs.search'>;
        return this.#log(source).search(query, limit ?? 10_000);
      }
      case 'workspace.list':
        return listWorkspace(this.#opts.paths.workspace((arg as Request<'workspace.list'>).workId));
      case 'workspace.read': {
        const { workId, path } = arg as Request<'workspace.read'>;
        const bytes = readWorkspaceFile(this.#opts.paths.workspace(workId), path);
        return { base64: bytes.toString('base64'), size: bytes.length };
      }
    }
  }

  /** Check the key with the API before keeping it: a wrong key is refused in the API's own words. */
  async #connect(arg: Request<'account.connect'>): Promise<null> {
    const apiBaseUrl = arg.apiBaseUrl ?? this.#settings.apiBaseUrl;
    const key = new Secret(arg.apiKey.trim());
    try {
      await new Account(apiBaseUrl, key).verify();
    } catch (e) {
      throw e instanceof AccountError ? new UserError(e.message) : e;
    }
    await this.#opts.secrets.set({ kind: 'api-key' }, key.reveal());
    if (apiBaseUrl !== this.#settings.apiBaseUrl) this.#settings = this.#opts.settings.save({ ...this.#settings, apiBaseUrl });
    return null;
  }

  /** A call with the API key, its failure in words: where it went and what the API said. */
  async #withAccount<T>(call: (account: Account) => Promise<T>): Promise<T> {
    const key = await this.#opts.secrets.get({ kind: 'api-key' });
    if (!key) throw new UserError('Add your API key first.');
    try {
      return await call(new Account(this.#settings.apiBaseUrl, key));
    } catch (e) {
      throw e instanceof AccountError ? new UserError(e.message) : e;
    }
  }

  async #usage() {
    const running = (this.#worker?.items ?? []).filter((i) => i.containerId && i.status === 'running');
    const usage = await Promise.all(running.map(async (i) => ({ workId: i.workId, usage: await this.#opts.runtime.usage(i.containerId!) })));
    return usage.flatMap(({ workId, usage }) => (usage ? [{ workId, ...usage }] : []));
  }

  /** One index per log, kept while the process lives: a view scrolling a huge log re-reads nothing it has seen. */
  #log(source: LogSource): LogFile {
    const path = source.kind === 'app' ? this.#opts.appLogFile : this.#opts.paths.sessionLog(source.workId);
    if (!path) throw new UserError('This Outpost keeps no log file.');
    let log = this.#logs.get(path);
    if (!log) {
      if (this.#logs.size >= 32) this.#logs.delete(this.#logs.keys().next().value!);
      log = new LogFile(path);
      this.#logs.set(path, log);
    }
    return log;
  }

  #remember(item: ItemState): void {
    if (!ENDED.has(item.status)) return;
    try {
      this.#history.add(historyEntryOf(item));
    } catch (e) {
      // A full disk loses a history line, never the worker.
      this.#opts.logger.error('could not record the finished item in the history', { work_id: item.workId, error: (e as Error).message });
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
    const { prepare } = this.#opts;
    const worker = createWorker({
      profile,
      key,
      runtime: this.#opts.runtime,
      paths: this.#opts.paths,
      logger,
      installId: this.#installId,
      instanceId: this.#instance.id,
      ...(prepare ? { prepare: () => prepare(profile.image) } : {}),
    });
    this.#worker = worker;
    this.#detachWorker = worker.events.on((event) => {
      if (event.type === 'worker-state') this.events.fire({ name: 'worker-state', payload: event.state });
      else {
        this.#remember(event.item);
        this.events.fire({ name: 'item-state', payload: event.item });
      }
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

function historyEntryOf(item: ItemState): HistoryEntry {
  return {
    workId: item.workId,
    environmentId: item.environmentId,
    kind: item.kind,
    subjectId: item.subjectId,
    status: item.status,
    claimedAt: item.claimedAt,
    endedAt: item.updatedAt,
    ...(item.exitCode !== undefined ? { exitCode: item.exitCode } : {}),
    ...(item.reason !== undefined ? { reason: item.reason } : {}),
    hasLog: item.logFile !== undefined,
  };
}
