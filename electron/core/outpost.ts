import { hostname } from 'node:os';
import { environmentProfileSchema, type EngineReport, type EnvironmentProfile, type MachineCheck, type Result, type ServiceEvent, type Settings, type SettingsPatch } from '../../shared/contract.js';
import { isTerminal, type ItemState, type WorkerState } from '../../shared/states.js';
import { Emitter } from './base/emitter.js';
import { keyFor } from './secrets/key-origins.js';
import { HistoryStore, historyEntryOf } from './store/history.js';
import type { Logger } from './logs/log.js';
import { join } from 'node:path';
import { DataPaths, InstanceRecord, sessionKey } from './store/paths.js';
import { AnthropicProvider } from './providers/anthropic/provider.js';
import { BridgeProvider } from './providers/bridge.js';
import { globalFetch } from './providers/http.js';
import type { ControlPlane } from './providers/control-plane.js';
import type { Resolver } from './egress/proxy.js';
import type { PowerSource } from './worker/power.js';
import type { EgressSettings } from './runtime/session-egress.js';
import { DockerRuntime } from './runtime/docker.js';
import { openEngine, type EngineEndpoint } from './runtime/engine.js';
import { engineLine, type EngineDescription } from './runtime/engine-info.js';
import { sessionUidNote, sessionUser } from './runtime/workspace.js';
import { identityWords, ROOT_OUTPOST_FIX, rootOutpostProblem, userMapping } from './runtime/user-mapping.js';
import { askEngine, engineReport } from './runtime/engine-report.js';
import { checkMachine } from './doctor/checks.js';
import { FORWARDER_IMAGE } from './runtime/egress-sidecar.js';
import { checkMounts, ReadOnlyMounts } from './runtime/mounts.js';
import type { SessionSettings } from './worker/session-settings.js';
import { ensureSessionImage, packageVersion } from './runtime/session-image.js';
import { redactDeep, type Secret } from './secrets/secret.js';
import type { SecretStore } from './secrets/secret-store.js';
import { OutpostService, UserError, type ServiceCore } from './handlers.js';
import { SettingsStore } from './store/settings.js';
import { Worker, type WorkerFatalError } from './worker/worker.js';

const HOUR_MS = 60 * 60 * 1000;
/** Docker's own network modes, always there. */
const BUILT_IN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

export interface OutpostOptions {
  /** The data folder: sessions' workspaces and logs, history, claims (store/data-folder.ts chooses it, or --data-dir). */
  dataDir: string;
  /** Where settings.json lives: the desktop app's user-data folder; the data folder by default (the headless worker). */
  settingsDir?: string;
  secrets: SecretStore;
  logger: Logger;
  /** Outpost's own log, viewable from the window. */
  appLogFile?: string;
  /** Told after settings change (the desktop app applies start-at-login). */
  onSettingsChanged?: (settings: Settings) => void;
  /** How often retention runs while Outpost is open (it also runs at open). */
  retentionCheckMs?: number;
  /** Readies an environment's image before the first claim. Default: build Outpost's session image when it is missing. */
  prepare?: (image: string) => Promise<void>;
  /** Name lookups of the sessions' egress proxies (tests point them at 127.0.0.x servers). Default: the system's. */
  egressResolver?: Resolver;
  /** Whether the machine runs on battery (the settings' pauseOnBattery); none: never. */
  power?: PowerSource;
  /**
   * The HTTP of every control-plane call (the work loop, the environments view): the desktop app
   * passes Electron's net.fetch, which follows the system's proxy settings, PAC and certificate
   * store; the headless worker Node's fetch (with HTTPS_PROXY/NO_PROXY, cli/network.ts). Default: Node's.
   */
  fetch?: typeof fetch;
  /** The Docker engine to use (--docker-host); before the settings' choice, DOCKER_HOST and the rest (runtime/engine.ts). */
  dockerHost?: string;
}

/**
 * What a running Outpost is — the one place a process is put together. The desktop app, the
 * dashboard and the CLI are heads: each parses its input, opens an Outpost, attaches its views,
 * and closes it through the one shutdown policy (shutdown.ts).
 * Owns the data folder and this process's instance record, the settings, the history,
 * retention (at open and periodically), the worker serving the chosen environment, and the
 * events every view renders from.
 */
export class Outpost implements ServiceCore {
  /**
   * What every view renders from — the window over IPC, the dashboard's WebSocket, desktop
   * notifications: redacted once, here, before any of them sees it (a 401 may quote a key).
   */
  readonly events = new Emitter<ServiceEvent>(redactDeep);
  readonly paths: DataPaths;
  readonly runtime: DockerRuntime;
  /** The engine found at open, and how; undefined when the one named cannot serve (#engineProblem says why). */
  readonly engine: { endpoint: EngineEndpoint; othersFound: string[] } | undefined;
  readonly #engineProblem: string | undefined;
  readonly history: HistoryStore;
  readonly secrets: SecretStore;
  readonly logger: Logger;
  readonly appLogFile: string | undefined;
  readonly fetch: typeof fetch;
  /** Problems found while opening (a settings file kept aside), for each view to show when it attaches. */
  readonly startupNotices: string[] = [];
  readonly #opts: OutpostOptions;
  readonly #instance: InstanceRecord;
  readonly #installId: string;
  readonly #settingsStore: SettingsStore;
  readonly #service: OutpostService;
  readonly #retention: NodeJS.Timeout;
  /** Aborted by dispose: ends what runs on worker threads for this Outpost (retention's emptying). */
  readonly #closing = new AbortController();
  #emptying: Promise<void> = Promise.resolve();
  #emptyingWaits = false;
  #settings: Settings;
  #worker: Worker | undefined;
  #detachWorker: () => void = () => {};
  #detachPower: () => void = () => {};
  #workerDone: Promise<WorkerFatalError | undefined> = Promise.resolve(undefined);
  #checking: Promise<MachineCheck[]> | undefined;

  static open(opts: OutpostOptions): Outpost {
    return new Outpost(opts);
  }

  private constructor(opts: OutpostOptions) {
    this.#opts = opts;
    this.logger = opts.logger;
    this.secrets = opts.secrets;
    this.appLogFile = opts.appLogFile;
    this.fetch = opts.fetch ?? globalFetch;
    this.paths = new DataPaths(opts.dataDir);
    this.history = new HistoryStore(this.paths.root);
    this.#instance = new InstanceRecord(this.paths);
    this.#installId = this.paths.installId();
    this.#settingsStore = new SettingsStore(opts.settingsDir ?? this.paths.root);
    const loaded = this.#settingsStore.load();
    this.#settings = loaded.settings;
    if (loaded.problem) {
      this.logger.error(loaded.problem);
      this.startupNotices.push(loaded.problem);
    }
    const engine = openEngine({ flag: opts.dockerHost, setting: this.#settings.dockerHost || undefined });
    this.engine = 'problem' in engine ? undefined : { endpoint: engine.endpoint, othersFound: engine.othersFound };
    this.#engineProblem = 'problem' in engine ? engine.problem : undefined;
    // An engine that cannot serve refuses the worker's start in words; the window still opens on the default client.
    this.runtime = new DockerRuntime('problem' in engine ? undefined : engine.docker);
    this.#service = new OutpostService(this);
    void this.pruneOldSessions();
    this.#retention = setInterval(() => void this.pruneOldSessions(), opts.retentionCheckMs ?? HOUR_MS);
    this.#retention.unref();
  }

  /**
   * A contract call from a view: parsed, dispatched, answered in an envelope. Never throws.
   * The reply is redacted like every event; a workspace file's bytes are the session's own
   * and go as they are (redacting inside base64 would corrupt the download).
   */
  async handle(channel: string, raw: unknown): Promise<Result<unknown>> {
    const reply = await this.#service.handle(channel, raw);
    return channel === 'workspace.read' && 'result' in reply ? reply : redactDeep(reply);
  }

  get settings(): Settings {
    return this.#settings;
  }

  updateSettings(patch: SettingsPatch): Settings {
    this.#settings = this.#settingsStore.update(patch);
    this.#opts.onSettingsChanged?.(this.#settings);
    this.#applyPower();
    return this.#settings;
  }

  /** Claim nothing on battery when the settings say so; claim again on power, or when the setting is turned off. */
  #applyPower(): void {
    this.#worker?.setOnBattery(this.#settings.pauseOnBattery && (this.#opts.power?.onBattery() ?? false));
  }

  get workerState(): WorkerState {
    return this.#worker?.state ?? { status: 'off' };
  }

  get items(): ItemState[] {
    return this.#worker?.items ?? [];
  }

  get activeSessions(): number {
    return this.#worker?.active ?? 0;
  }

  /** Resolves when the worker last started has stopped for good: with the error that stopped it, if one did. */
  get workerDone(): Promise<WorkerFatalError | undefined> {
    return this.#workerDone;
  }

  /** Serve `profile` (a head's flags): it becomes the served environment's profile, then the worker starts. */
  async serve(profile: EnvironmentProfile): Promise<void> {
    this.updateSettings({
      ...(profile.provider === 'anthropic' ? { apiBaseUrl: profile.baseUrl } : {}),
      servedEnvironmentId: profile.environmentId,
      environment: profile,
    });
    await this.startWorker();
  }

  /** Serve the chosen environment with its key from the secret store. */
  async startWorker(): Promise<void> {
    const status = this.workerState.status;
    if (status !== 'off' && status !== 'error') return;
    const profile = this.#servedProfile();
    if (!profile) throw new UserError('Choose the environment this machine serves first.');
    if (this.#engineProblem) throw new UserError(this.#engineProblem);
    // Only to the origin the key was set for (key-origins.ts): a changed URL needs the key again.
    const key = await keyFor(this.secrets, { kind: 'environment-key', environmentId: profile.environmentId }, profile.baseUrl);
    if (!key) throw new UserError(`Set the environment key for ${profile.environmentId} first.`);
    if (profile.egress === 'open') await this.#checkNetwork(profile.networkMode);
    const extras = await this.#sessionExtras(profile);
    const engine = await this.#announceEngine();
    const rootless = engine && rootOutpostProblem(engine);
    if (rootless) throw new UserError(`${rootless} ${ROOT_OUTPOST_FIX}`);
    this.#detachWorker();
    const worker = this.#createWorker(profile, key, extras);
    this.#worker = worker;
    this.#detachWorker = worker.events.on((event) => {
      if (event.type === 'worker-state') this.events.fire({ name: 'worker-state', payload: event.state });
      else {
        // Its reason may quote what a control plane answered: history.jsonl keeps the redacted words.
        const item = redactDeep(event.item);
        this.#remember(item);
        this.events.fire({ name: 'item-state', payload: item });
      }
    });
    await worker.start();
    this.#detachPower();
    this.#detachPower = this.#opts.power?.subscribe(() => this.#applyPower()) ?? (() => {});
    this.#applyPower();
    if (profile.allowRoot) {
      // Once per worker start in the window; the log says it again at each session's start (supervisor.ts).
      const message = `Sessions of ${profile.environmentId} run as root in their containers: its profile allows it. Turn that off unless its image needs root.`;
      this.logger.warn(message, { environment_id: profile.environmentId });
      this.events.fire({ name: 'notice', payload: { level: 'warning', message } });
    }
    this.#workerDone = worker.stopped.then(async () => {
      if (!worker.fatalError) {
        await worker.shutdown(profile.drainSeconds * 1000);
        return undefined;
      }
      // Polling failed for good (a wrong key, an unknown environment): stop what runs and say why.
      await worker.stopNow();
      this.events.fire({ name: 'notice', payload: { level: 'error', message: worker.fatalError.message } });
      return worker.fatalError;
    });
  }

  pauseWorker(): void {
    this.#worker?.pause();
  }

  resumeWorker(): void {
    this.#worker?.resume();
  }

  stopItem(workId: string): boolean {
    return this.#worker?.stopItem(workId) ?? false;
  }

  /** The machine is going to sleep: claim nothing. */
  sleep(): void {
    this.#worker?.sleep();
  }

  /** Back from sleep: every lease is checked before claiming again. */
  wake(): Promise<void> {
    return this.#worker?.wake() ?? Promise.resolve();
  }

  /** drain: stop claiming and wait (up to the profile's drain period) for running sessions; now: stop them. */
  async stopWorker(mode: 'drain' | 'now'): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    await (mode === 'now' ? worker.stopNow() : worker.shutdown((this.#servedProfile()?.drainSeconds ?? 30) * 1000));
  }

  describeEngine(): Promise<EngineReport> {
    return engineReport({
      inUse: this.engine ? { endpoint: this.engine.endpoint, docker: this.runtime.docker } : { problem: this.#engineProblem ?? 'no Docker engine' },
      setting: this.#settings.dockerHost,
      flag: this.#opts.dockerHost,
    });
  }

  /**
   * The doctor's checks, on what this Outpost uses: its engine, its data folder, its keychain, the served
   * environment's limits. One run at a time: a second window asking meanwhile shares it (each run starts containers).
   */
  checkMachine(): Promise<MachineCheck[]> {
    const profile = this.#servedProfile() ?? environmentProfileSchema.parse({ environmentId: 'none' });
    this.#checking ??= checkMachine({
      head: 'window',
      engine: this.engine ? { endpoint: this.engine.endpoint, docker: this.runtime.docker } : { problem: this.#engineProblem ?? 'no Docker engine' },
      dataDir: this.paths.root,
      keychain: this.secrets,
      limits: { cpus: profile.cpus, memoryMb: profile.memoryMb, pids: profile.pids },
    }).finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /**
   * Retention: session logs and workspaces older than the setting go; a running session's never do.
   * They leave their names at once; their files are removed on a worker thread (the trash, store/paths.ts),
   * which the returned promise waits for. Never rejects.
   */
  async pruneOldSessions(): Promise<number> {
    const days = this.#settings.logRetentionDays;
    let pruned = 0;
    try {
      const keep = new Set([...this.items.map((i) => sessionKey(i.environmentId, i.workId)), ...(this.#worker?.warmKeys ?? [])]);
      pruned = this.paths.pruneSessionFiles(days, Date.now(), keep);
      if (pruned > 0) this.logger.info(`removed the logs and workspaces of ${pruned} session${pruned === 1 ? '' : 's'} older than ${days} days`);
    } catch (e) {
      this.logger.warn('could not remove old session logs and workspaces', { error: (e as Error).message });
    }
    await this.#emptyTrash();
    return pruned;
  }

  /**
   * One emptying of the trash at a time, and at most one more waiting for it (it takes all the trash
   * holds when it starts); dispose ends the one running, and the next open finishes it.
   */
  #emptyTrash(): Promise<void> {
    if (this.#emptyingWaits) return this.#emptying;
    this.#emptyingWaits = true;
    const signal = this.#closing.signal;
    const run = async () => {
      this.#emptyingWaits = false;
      if (signal.aborted) return;
      try {
        const failed = await this.paths.emptyTrash(signal);
        if (failed.length) this.logger.warn('could not remove every file of old sessions; trying again at the next check', { files: failed.length, first: failed[0] });
      } catch (e) {
        if (!signal.aborted) this.logger.warn('could not remove the files of old sessions', { error: (e as Error).message });
      }
    };
    this.#emptying = this.#emptying.then(run);
    return this.#emptying;
  }

  /** Stop everything now and release what this process holds. The shutdown policy drains first, when asked to. */
  async dispose(): Promise<void> {
    clearInterval(this.#retention);
    this.#closing.abort();
    await this.#emptying;
    this.#detachPower();
    await this.#worker?.stopNow();
    await this.#workerDone;
    this.#detachWorker();
    this.#instance.dispose();
  }

  /**
   * The worker's first lines name the engine — kind, version, rootless or not, how it was found — so a
   * user with two engines sees which one serves (the docker CLI may be on another context), and say what
   * it cannot enforce of the sessions' limits, in the log and in the window. An engine that does not
   * answer is said too; the worker then waits for it, as it does for Docker gone. Its description, when it answered.
   */
  async #announceEngine(): Promise<EngineDescription | undefined> {
    const { endpoint, othersFound } = this.engine!;
    try {
      const description = await askEngine(this.runtime.docker);
      this.logger.info(`Docker engine: ${engineLine(description, endpoint.host, endpoint.foundBy)}`);
      if (rootOutpostProblem(description)) return description;
      const uidNote = sessionUidNote();
      if (uidNote) this.logger.info(uidNote);
      else this.logger.info(`sessions run as ${identityWords(sessionUser(false), userMapping(description))}`);
      if (othersFound.length) this.logger.info(`other engines' sockets found here too: ${othersFound.join(', ')} (choose with --docker-host or the Docker engine setting)`);
      for (const limit of description.unenforced) {
        const message = `The Docker engine (${description.kind}) cannot enforce the sessions' limits: ${limit}.`;
        this.logger.warn(message);
        this.events.fire({ name: 'notice', payload: { level: 'warning', message } });
      }
      return description;
    } catch (e) {
      this.logger.warn(`the Docker engine at ${endpoint.host} (found by ${endpoint.foundBy}) does not answer: ${(e as Error).message}`);
      return undefined;
    }
  }

  /** A network Docker does not have would fail every item claimed: refuse it before the first claim. Docker down: the worker waits for it. */
  async #checkNetwork(mode: string): Promise<void> {
    if (BUILT_IN_NETWORKS.has(mode) || mode.startsWith('container:')) return;
    try {
      await this.runtime.docker.getNetwork(mode).inspect();
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) {
        throw new UserError(`Docker has no network named ${mode}: create it (docker network create ${mode}) or choose bridge, host or none.`);
      }
    }
  }

  /**
   * What each session of the profile gets besides its item: its variables, the secret
   * ones from the keychain (each a Secret, so every log redacts it), and its read-only mounts,
   * checked now: a refused one stops the worker from starting, in words, before any claim. They are
   * judged again at each container's create (the runtime), where a refused one fails that session.
   */
  async #sessionExtras(profile: EnvironmentProfile): Promise<Pick<SessionSettings, 'env' | 'mounts'>> {
    const env: Record<string, string | Secret> = {};
    for (const variable of profile.envVars) {
      if (!variable.inKeychain) {
        env[variable.name] = variable.text;
        continue;
      }
      // Only into the sessions of the control plane it was set for (key-origins.ts), as a key.
      const stored = await keyFor(this.secrets, { kind: 'env-var', environmentId: profile.environmentId, name: variable.name }, profile.baseUrl);
      if (!stored) throw new UserError(`Set the value of the secret variable ${variable.name} of ${profile.environmentId} first: it lives in the keychain.`);
      env[variable.name] = stored;
    }
    try {
      checkMounts(profile.mounts, this.paths.root);
    } catch (e) {
      throw new UserError(`${profile.environmentId}: ${(e as Error).message}`);
    }
    return { env, mounts: new ReadOnlyMounts(profile.mounts, this.paths.root) };
  }

  #servedProfile(): EnvironmentProfile | undefined {
    return this.#settings.environments.find((e) => e.environmentId === this.#settings.servedEnvironmentId);
  }

  #remember(item: ItemState): void {
    if (!isTerminal(item.status)) return;
    try {
      this.history.add(historyEntryOf(item));
    } catch (e) {
      // A full disk loses a history line, never the worker.
      this.logger.error('could not record the finished item in the history', { work_id: item.workId, error: (e as Error).message });
    }
  }

  /**
   * A profile's egress for each session as it starts: the policy the worker started with, and the
   * allowlist as it is now — the window's one-click allow reaches the very next session.
   */
  #egressOf(profile: EnvironmentProfile): EgressSettings {
    const current = () => this.#settings.environments.find((e) => e.environmentId === profile.environmentId) ?? profile;
    return {
      policy: profile.egress,
      get allowHosts() {
        return current().allowHosts;
      },
      environmentUrl: profile.baseUrl,
      ...(this.#opts.egressResolver ? { resolve: this.#opts.egressResolver } : {}),
    };
  }

  /** The worker that serves one environment profile: its control plane, limits and image. */
  #createWorker(profile: EnvironmentProfile, key: Secret, extras: Pick<SessionSettings, 'env' | 'mounts'>): Worker {
    const { logger, runtime, paths } = this;
    const instanceId = this.#instance.id;
    const provider: ControlPlane =
      profile.provider === 'ainative' ?
        new BridgeProvider({
          baseURL: profile.baseUrl,
          environmentId: profile.environmentId,
          token: key,
          logger,
          interpreter: profile.interpreter,
          timeoutMs: profile.timeoutSeconds * 1000,
          resultsDir: join(paths.root, 'bridge-results'),
          fetch: this.fetch,
        })
      : new AnthropicProvider({
          baseURL: profile.baseUrl,
          environmentId: profile.environmentId,
          environmentKey: key,
          // Stable per install, unique per process (DESIGN §1.1).
          workerId: `${hostname()}-${this.#installId.slice(0, 8)}-${instanceId.slice(0, 8)}`,
          logger,
          fetch: this.fetch,
        });
    const prepare = this.#opts.prepare ?? ((image: string) => ensureSessionImage({ runtime, image, logger, version: packageVersion() }));
    return new Worker({
      provider,
      runtime,
      paths,
      logger,
      installId: this.#installId,
      instanceId,
      maxSessions: profile.maxSessions,
      // A Bridge item runs its own command: no runner waits for it.
      warmContainers: profile.provider === 'anthropic' ? profile.warm : 0,
      session: {
        image: profile.image,
        networkMode: profile.networkMode,
        egress: this.#egressOf(profile),
        limits: { cpus: profile.cpus, memoryMb: profile.memoryMb, pids: profile.pids, logMb: profile.logLimitMb },
        graceSeconds: profile.graceSeconds,
        allowRoot: profile.allowRoot,
        ...extras,
      },
      onEgress: (connection) => this.events.fire({ name: 'egress', payload: connection }),
      prepare: async () => {
        await prepare(profile.image);
        // api and allowlist: each session's forwarder sidecar runs in the session image; so does the engine's
        // defusing of a root session's workspace for an Outpost that is not root (worker/workspace-defuse.ts).
        const defusedByEngine = profile.allowRoot && process.getuid?.() !== 0;
        if (profile.egress === 'api' || profile.egress === 'allowlist' || defusedByEngine) await prepare(FORWARDER_IMAGE);
      },
    });
  }
}
