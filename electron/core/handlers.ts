import {
  calls,
  type Channel,
  type EngineReport,
  type MachineCheck,
  type LogSource,
  type ParsedRequest,
  type Response,
  type Result,
  type Settings,
  type SettingsPatch,
} from '../../shared/contract.js';
import type { ItemState, WorkerState } from '../../shared/states.js';
import { keyFor, originForNewKey, originOf } from './secrets/key-origins.js';
import { Account, AccountError } from './providers/anthropic/account.js';
import type { HistoryStore } from './store/history.js';
import type { Logger } from './logs/log.js';
import { LogFile } from './logs/log-file.js';
import type { DataPaths } from './store/paths.js';
import type { DockerRuntime } from './runtime/docker.js';
import { Secret } from './secrets/secret.js';
import { KeychainUnavailableError, type SecretStore } from './secrets/secret-store.js';
import { UserError } from './base/user-error.js';
import { listWorkspace, readWorkspaceFile } from './store/workspace-files.js';
import { readConnections } from './egress/connection-log.js';
import { checkMounts } from './runtime/mounts.js';

/** What the contract's handlers act on: a running Outpost (outpost.ts). */
export interface ServiceCore {
  readonly settings: Settings;
  updateSettings(patch: SettingsPatch): Settings;
  readonly secrets: SecretStore;
  readonly logger: Logger;
  readonly paths: DataPaths;
  readonly runtime: DockerRuntime;
  readonly history: HistoryStore;
  readonly appLogFile: string | undefined;
  /** Every control-plane call's HTTP (the desktop app's is Electron's, with the system's proxy and certificates). */
  readonly fetch: typeof fetch;
  readonly workerState: WorkerState;
  readonly items: ItemState[];
  startWorker(): Promise<void>;
  pauseWorker(): void;
  resumeWorker(): void;
  stopWorker(mode: 'drain' | 'now'): Promise<void>;
  stopItem(workId: string): boolean;
  /** The engine in use, how it was found, what it cannot enforce, and the others found here. */
  describeEngine(): Promise<EngineReport>;
  /** `outpost doctor`'s checks on this Outpost's engine, data folder and keychain. */
  checkMachine(): Promise<MachineCheck[]>;
}

/** One handler per call, typed by the contract: `tsc` refuses a reply that drifts from its channel's response schema. */
export type ContractHandlers = { [C in Channel]: (request: ParsedRequest<C>) => Response<C> | Promise<Response<C>> };

export { UserError };

/**
 * Everything a view can ask of Outpost, behind the contract: arguments parsed with the
 * contract's schema, every reply an envelope. The desktop app's IPC adapter and the headless
 * dashboard's WebSocket both reach it through `Outpost.handle`.
 */
export class OutpostService {
  readonly #core: ServiceCore;
  readonly #logs = new Map<string, LogFile>();
  readonly #handlers: ContractHandlers;

  constructor(core: ServiceCore) {
    this.#core = core;
    this.#handlers = this.#createHandlers();
  }

  /** Parse, dispatch, and wrap: never throws. */
  async handle(channel: string, raw: unknown): Promise<Result<unknown>> {
    if (!Object.hasOwn(calls, channel)) return { error: { code: 'invalid-request', message: `unknown call ${channel}` } };
    const parsed = calls[channel as Channel].request.safeParse(raw ?? {});
    if (!parsed.success) return { error: { code: 'invalid-request', message: `${channel}: ${parsed.error.issues.map((i) => i.message).join('; ')}` } };
    // The one cast: `parsed.data` was checked against this very channel's request schema.
    const handler = this.#handlers[channel as Channel] as (request: unknown) => unknown;
    try {
      return { result: await handler(parsed.data) };
    } catch (e) {
      if (e instanceof KeychainUnavailableError) return { error: { code: 'keychain-unavailable', message: e.message } };
      if (!(e instanceof UserError)) this.#core.logger.error(`${channel} failed`, { error: (e as Error).message });
      return { error: { code: 'failed', message: (e as Error).message } };
    }
  }

  #createHandlers(): ContractHandlers {
    const core = this.#core;
    const { secrets, paths } = core;
    return {
      'worker.state': () => core.workerState,
      'worker.start': async () => (await core.startWorker(), null),
      'worker.pause': () => (core.pauseWorker(), null),
      'worker.resume': () => (core.resumeWorker(), null),
      'worker.stop': async ({ mode }) => (await core.stopWorker(mode), null),
      'items.list': () => core.items,
      'items.stop': ({ workId }) => core.stopItem(workId),
      'settings.get': () => core.settings,
      'settings.update': (patch) => {
        // A folder that would hand a session the host is refused where it is typed, not only when the worker starts.
        if (patch.environment?.mounts) {
          try {
            checkMounts(patch.environment.mounts, paths.root);
          } catch (e) {
            throw new UserError((e as Error).message);
          }
        }
        return core.updateSettings(patch);
      },
      'keys.status': async (ref) => ({ set: (await secrets.get(ref)) !== null }),
      'keys.set': async ({ value, ...ref }) => (await secrets.set(ref, value.trim(), originForNewKey(core.settings, ref)), null),
      'keys.clear': async (ref) => (await secrets.delete(ref), null),
      'account.connect': (request) => this.#connect(request),
      'environments.list': ({ includeArchived }) => this.#withAccount((a) => a.environments(includeArchived)),
      'environments.stats': ({ environmentId }) => this.#withAccount((a) => a.stats(environmentId)),
      'environments.create': ({ name }) => this.#withAccount((a) => a.create(name)),
      'environments.archive': ({ environmentId }) => this.#withAccount((a) => a.archive(environmentId)),
      'items.usage': () => this.#usage(),
      'history.list': () => core.history.list(),
      'logs.info': ({ source }) => this.#log(source).info(),
      'logs.lines': ({ source, from, count }) => this.#log(source).lines(from, count),
      'logs.search': ({ source, query, limit }) => this.#log(source).search(query, limit),
      'workspace.list': ({ environmentId, workId }) => listWorkspace(paths.workspace(environmentId, workId)),
      'workspace.read': ({ environmentId, workId, path }) => {
        const bytes = readWorkspaceFile(paths.workspace(environmentId, workId), path);
        return { base64: bytes.toString('base64'), size: bytes.length };
      },
      'egress.list': ({ environmentId, workId }) => readConnections(paths.sessionEgress(environmentId, workId)),
      'egress.allow': ({ environmentId, entry }) => {
        const profile = core.settings.environments.find((e) => e.environmentId === environmentId);
        if (!profile) throw new UserError(`This machine has no settings for ${environmentId}.`);
        if (profile.allowHosts.includes(entry)) return core.settings;
        return core.updateSettings({ environment: { environmentId, allowHosts: [...profile.allowHosts, entry] } });
      },
      'engine.describe': () => core.describeEngine(),
      'machine.check': () => core.checkMachine(),
    };
  }

  /** Check the key with the API before keeping it: a wrong key is refused in the API's own words. */
  async #connect(arg: ParsedRequest<'account.connect'>): Promise<null> {
    const apiBaseUrl = arg.apiBaseUrl ?? this.#core.settings.apiBaseUrl;
    const key = new Secret(arg.apiKey.trim());
    try {
      await new Account(apiBaseUrl, key, this.#core.fetch).verify();
    } catch (e) {
      throw e instanceof AccountError ? new UserError(e.message) : e;
    }
    await this.#core.secrets.set({ kind: 'api-key' }, key.reveal(), originOf(apiBaseUrl));
    if (apiBaseUrl !== this.#core.settings.apiBaseUrl) this.#core.updateSettings({ apiBaseUrl });
    return null;
  }

  /** A call with the API key, its failure in words: where it went and what the API said. */
  async #withAccount<T>(call: (account: Account) => Promise<T>): Promise<T> {
    const url = this.#core.settings.apiBaseUrl;
    const key = await keyFor(this.#core.secrets, { kind: 'api-key' }, url);
    if (!key) throw new UserError('Add your API key first.');
    try {
      return await call(new Account(url, key, this.#core.fetch));
    } catch (e) {
      throw e instanceof AccountError ? new UserError(e.message) : e;
    }
  }

  async #usage() {
    const running = this.#core.items.filter((i) => i.containerId && i.status === 'running');
    const usage = await Promise.all(running.map(async (i) => ({ workId: i.workId, usage: await this.#core.runtime.usage(i.containerId!) })));
    return usage.flatMap(({ workId, usage }) => (usage ? [{ workId, ...usage }] : []));
  }

  /** One index per log, kept while the process lives: a view scrolling a huge log re-reads nothing it has seen. */
  #log(source: LogSource): LogFile {
    const path = source.kind === 'app' ? this.#core.appLogFile : this.#core.paths.sessionLog(source.environmentId, source.workId);
    if (!path) throw new UserError('This Outpost keeps no log file.');
    let log = this.#logs.get(path);
    if (!log) {
      if (this.#logs.size >= 32) this.#logs.delete(this.#logs.keys().next().value!);
      log = new LogFile(path);
      this.#logs.set(path, log);
    }
    return log;
  }
}
