/**
 * The one contract between the core and every view (the window over IPC, the headless
 * dashboard over a WebSocket): each call's request and response, each event, as zod
 * schemas. Whatever enters the main process is parsed with these; replies are envelopes.
 */
import { z } from 'zod';
import { itemStateSchema, workerStateSchema } from './states.js';
import { CHANNEL_NAMES, type ChannelName } from './channels.js';
import { controlPlaneId } from './ids.js';
import { allowEntryProblem, DEFAULT_ALLOWLIST, EGRESS_POLICIES } from './egress.js';

const count = z.number().int().nonnegative();

/**
 * Where keys are sent: https:, or http: only to this machine (127.0.0.0/8, ::1, localhost) —
 * a key must never cross a network in the clear (DESIGN §4).
 */
export function isKeySafeUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'https:') return true;
  return parsed.protocol === 'http:' && (/^127(\.\d{1,3}){3}$/.test(parsed.hostname) || parsed.hostname === '[::1]' || parsed.hostname === 'localhost');
}
export const KEY_SAFE_URL_RULE = 'only https:, or http: to this machine (127.0.0.1, ::1, localhost)';
const keySafeUrl = z.string().url().refine(isKeySafeUrl, KEY_SAFE_URL_RULE);

const environmentId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'an environment id such as env_…');

const allowEntry = z
  .string()
  .trim()
  .toLowerCase()
  .max(300)
  .superRefine((entry, ctx) => {
    const problem = allowEntryProblem(entry);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** A variable a session gets: a name of the shell's kind; ANTHROPIC_* and OUTPOST_* are Outpost's own (the runner's ids and token). */
const envVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'a variable name: letters, digits and _, not starting with a digit')
  .refine((name) => !/^(ANTHROPIC|OUTPOST)_/i.test(name), 'ANTHROPIC_* and OUTPOST_* are Outpost’s own');
const envVarSchema = z
  .object({
    name: envVarName,
    /** The value of a plain variable (a secret one's is in the keychain). */
    text: z.string().max(32_768).default(''),
    /** A secret: its value lives in the keychain (keys.set `env-var`), never here, and is redacted in every log. */
    inKeychain: z.boolean().default(false),
  })
  .strict()
  .refine((v) => !v.inKeychain || v.text === '', 'a secret variable’s value lives in the keychain, not in the settings');
/** A host folder a session reads: mounted read-only at `target` (default /mnt/<its name>); runtime/mounts.ts refuses the dangerous ones. */
const mountSchema = z
  .object({
    source: z.string().min(1).max(4096).refine((p) => p.startsWith('/'), 'an absolute host path'),
    target: z
      .string()
      .max(4096)
      .refine((p) => /^\/[^\0]*$/.test(p) && !p.split('/').includes('..'), 'an absolute path in the container, without ..')
      .optional(),
  })
  .strict();

/** What one environment's containers get, and how this machine serves it (DESIGN §1.3). */
const profileFields = z.object({
  environmentId,
  /** anthropic: self-hosted environments; ainative: Bridge environments (its key is the bearer token). */
  provider: z.enum(['anthropic', 'ainative']).default('anthropic'),
  name: z.string().max(200).default(''),
  baseUrl: keySafeUrl.default('https://api.anthropic.com'),
  image: z.string().min(1).default('outpost-session:latest'),
  /** The Docker network mode of an `open` environment's sessions; every other policy gives them loopback only. */
  networkMode: z.string().min(1).default('bridge'),
  /** What sessions may reach: nothing, the API only, the API and `allowHosts`, or whatever networkMode reaches. */
  egress: z.enum(EGRESS_POLICIES).default('allowlist'),
  /** `allowlist`: the hosts besides the API (names, `*.domain`, addresses or ranges; only an address lets a private one through). */
  allowHosts: z.array(allowEntry).max(500).default([...DEFAULT_ALLOWLIST]),
  // Docker's own bounds: at least 0.01 CPUs and 6 MiB; beyond these no machine has them, and every item would fail.
  cpus: z.number().min(0.01, 'at least 0.01 CPUs').max(256, 'at most 256 CPUs').default(2),
  memoryMb: z.number().int().min(6, 'at least 6 MiB').max(1_048_576, 'at most 1048576 MiB (1 TiB)').default(4096),
  pids: z.number().int().min(16, 'at least 16 processes').max(4_194_304, 'at most 4194304 processes').default(1024),
  /** A session's log stops here, with a line saying so: a flooding session would otherwise fill the disk. */
  logLimitMb: z.number().int().min(1, 'at least 1 MiB').max(1_048_576, 'at most 1048576 MiB (1 TiB)').default(100),
  maxSessions: z.number().int().min(1).max(64).default(2),
  /** Containers kept started and waiting for the next sessions (0: off). They count against maxSessions. */
  warm: z.number().int().min(0).max(64).default(1),
  drainSeconds: z.number().int().min(0).max(3600).default(30),
  graceSeconds: z.number().int().min(0).max(600).default(10),
  /** ainative: the command that runs each script, and how long one may run. */
  interpreter: z.array(z.string().min(1)).min(1).default(['python3']),
  timeoutSeconds: z.number().int().positive().max(86_400).default(600),
  /** Let sessions run as uid 0 in their containers (DESIGN §4: never, unless asked for here); warned at every start. */
  allowRoot: z.boolean().default(false),
  /** Variables every session of this environment gets (seed 002's envVars). */
  envVars: z
    .array(envVarSchema)
    .max(200)
    .default([])
    .refine((vars) => new Set(vars.map((v) => v.name)).size === vars.length, 'each variable once'),
  /** Host folders every session reads, read-only. */
  mounts: z.array(mountSchema).max(50).default([]),
});
/**
 * A profile without an egress policy that names its network mode comes from before policies existed
 * (every stored profile wrote its networkMode), or from a caller that chose a Docker network: it keeps
 * today's behaviour, `open`. A profile that names neither is new: `allowlist`.
 */
export const environmentProfileSchema = z.preprocess(
  (raw) => (raw && typeof raw === 'object' && !('egress' in raw) && 'networkMode' in raw ? { ...raw, egress: 'open' } : raw),
  profileFields,
);
export type EnvironmentProfile = z.infer<typeof environmentProfileSchema>;

export const settingsSchema = z.object({
  version: z.literal(1).default(1),
  /** The environment this machine serves; its profile is in `environments`. */
  servedEnvironmentId: environmentId.nullable().default(null),
  environments: z.array(environmentProfileSchema).default([]),
  startAtLogin: z.boolean().default(false),
  /** Desktop notifications for what needs the user (a session failed or lost, the worker stopped, a key refused). */
  desktopNotifications: z.boolean().default(true),
  /** Claim nothing while the machine runs on battery (running sessions finish); claim again on power. */
  pauseOnBattery: z.boolean().default(false),
  logRetentionDays: z.number().int().min(1).max(365).default(14),
  /**
   * The Docker engine to use (unix:///…, tcp://…, npipe://…), as --docker-host names it; empty: found
   * as the docker CLI finds it (DOCKER_HOST, the current context, the desktop engines' sockets).
   * Read when Outpost opens.
   */
  dockerHost: z.string().trim().max(500).default(''),
  /** Where the API key manages environments (the desktop's "Anthropic API" URL). */
  apiBaseUrl: keySafeUrl.default('https://api.anthropic.com'),
});
export type Settings = z.infer<typeof settingsSchema>;

/**
 * A schema's fields as a patch: each optional, no default filled in, so a patch changes only
 * what it names (zod 4 fills defaults inside `.partial()`).
 */
function patchOf<S extends z.ZodRawShape>(schema: z.ZodObject<S>) {
  const shape = Object.fromEntries(Object.entries(schema.shape).map(([name, field]) => [name, (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : (field as z.ZodType)).optional()]));
  return z.object(shape).strict() as unknown as z.ZodObject<{ [K in keyof S]: z.ZodOptional<S[K] extends z.ZodDefault<infer Inner> ? Inner : S[K]> }, z.core.$strict>;
}

/**
 * A change to the settings: the fields it names, and at most one environment profile — created, or
 * changed in the fields named. The window and a dashboard each send only what they change, so
 * neither overwrites the other's edits.
 */
export const settingsPatchSchema = patchOf(settingsSchema.omit({ version: true, environments: true })).extend({
  environment: patchOf(profileFields).extend({ environmentId }).optional(),
});
export type SettingsPatch = z.input<typeof settingsPatchSchema>;

/** Which key: never the key itself. */
export const keyRefSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('api-key') }),
  z.object({ kind: z.literal('environment-key'), environmentId }),
  /** A secret variable of an environment's sessions: its value, which reaches only their containers. */
  z.object({ kind: z.literal('env-var'), environmentId, name: envVarName }),
]);
export type KeyRef = z.infer<typeof keyRefSchema>;

const empty = z.object({}).strict();
const ok = z.null();
/** A work id names a session's log and workspace: the same check as where it came in (shared/ids.ts). */
const workId = controlPlaneId;
/**
 * A finished or running session's files are named by its environment and its work id: two environments
 * sharing a data folder may hand out the same work id, and each must find its own.
 */
const session = { environmentId: controlPlaneId, workId };

export const environmentSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  selfHosted: z.boolean(),
  archivedAt: z.string().nullable(),
  createdAt: z.string(),
});
export type EnvironmentSummary = z.infer<typeof environmentSummarySchema>;

export const queueStatsSchema = z.object({ depth: count, pending: count, workersPolling: count, oldestQueuedAt: z.string().nullable() });

/** A finished item, as the history keeps it across restarts. */
export const historyEntrySchema = itemStateSchema
  .pick({ workId: true, environmentId: true, kind: true, subjectId: true, status: true, claimedAt: true, exitCode: true, reason: true })
  .extend({ endedAt: z.number(), hasLog: z.boolean() });
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** A log a view can read: one session's container output, or Outpost's own log. */
export const logSourceSchema = z.discriminatedUnion('kind', [z.object({ kind: z.literal('session'), ...session }), z.object({ kind: z.literal('app') })]);
export type LogSource = z.infer<typeof logSourceSchema>;

export const workspaceEntrySchema = z.object({ path: z.string(), size: count, directory: z.boolean() });

/** One connection a session opened through its egress proxy, decided and measured. */
export const egressConnectionSchema = z.object({
  workId,
  /** Its number in the session: an open connection is reported again, under the same id, when it closes. */
  id: count,
  /** Allowed and still open: bytes and duration so far are not yet known. */
  open: z.boolean().optional(),
  /** When it was asked for (ms since the epoch). */
  at: z.number(),
  /** CONNECT: a tunnel (TLS, or whatever the client speaks); HTTP: a plain request forwarded. */
  method: z.enum(['CONNECT', 'HTTP']),
  host: z.string(),
  port: count,
  allowed: z.boolean(),
  /** The rule that decided: `api`, the allowlist entry that matched, or why it was refused. */
  rule: z.string(),
  /** The address connected to (allowed connections). */
  address: z.string().optional(),
  bytesUp: count,
  bytesDown: count,
  durationMs: count,
  /** Allowed, but the far end could not be reached (ECONNREFUSED, a timeout…). */
  error: z.string().optional(),
  /** Refused: the allowlist entry that would let it through (the host, or the internal address it resolved to). */
  suggest: z.string().optional(),
});
export type EgressConnection = z.infer<typeof egressConnectionSchema>;

/** What an engine is, as it said itself (/version, /info): bounded, since an engine's answers are outside input. */
export const engineDescriptionSchema = z.object({
  /** Docker, Docker Desktop, Podman, OrbStack, Colima, Rancher Desktop. */
  kind: z.string().max(100),
  version: z.string().max(200),
  rootless: z.boolean(),
  userNamespaces: z.boolean(),
  cgroupVersion: z.string().max(20).optional(),
  /** What it cannot enforce of a session's limits (memory, CPU, processes), each a sentence; none when all hold. */
  unenforced: z.array(z.string().max(1000)).max(20),
});

/** One engine found on this machine, and what answered there. */
export const engineFoundSchema = z.object({
  /** unix:///…, tcp://…, npipe://… */
  host: z.string().max(600),
  /** How it was found, in words (DOCKER_HOST, the current Docker context, a desktop engine's socket…). */
  foundBy: z.string().max(600),
  /** What answers there; absent when nothing does (`error` says why). */
  engine: engineDescriptionSchema.optional(),
  /** The one line that names it: `Podman 4.3.1 (rootless, cgroup v1) at unix:///…, found by DOCKER_HOST`. */
  line: z.string().max(2000).optional(),
  error: z.string().max(2000).optional(),
});
export type EngineFound = z.infer<typeof engineFoundSchema>;

/** The engine this Outpost uses, and every other one found here, for the window to name and offer. */
export const engineReportSchema = z.object({
  /** The engine chosen when Outpost opened; null when the one named cannot serve (`problem` says why). */
  inUse: engineFoundSchema.nullable(),
  problem: z.string().max(2000).optional(),
  /** Every engine found here as the docker CLI would find one, each asked what it is (the automatic choice first). */
  found: z.array(engineFoundSchema).max(50),
  /** The Docker engine setting as saved ('' = automatic). */
  setting: z.string().max(500),
  /** The saved setting names another engine than the one in use: Outpost takes it when it next opens. */
  settingPending: z.boolean(),
});
export type EngineReport = z.infer<typeof engineReportSchema>;

/** One check of this machine (`outpost doctor`, the window's Check this machine): passed, failed with its fix, or not run and why. */
export const machineCheckSchema = z.object({
  /** Which check: engine, limits, image, container, data-folder, workspace, egress, keychain. */
  topic: z.string().max(40),
  status: z.enum(['ok', 'fail', 'skipped']),
  /** What was found, in words, starting with what was checked ("session image: …"). */
  line: z.string().max(4000),
  /** What to do about a failure. */
  fix: z.string().max(2000).optional(),
});
export type MachineCheck = z.infer<typeof machineCheckSchema>;

export const calls = {
  'worker.state': { request: empty, response: workerStateSchema },
  'worker.start': { request: empty, response: ok },
  'worker.pause': { request: empty, response: ok },
  'worker.resume': { request: empty, response: ok },
  /** drain: wait for running sessions (still heartbeating); now: stop them. */
  'worker.stop': { request: z.object({ mode: z.enum(['drain', 'now']) }).strict(), response: ok },
  'items.list': { request: empty, response: z.array(itemStateSchema) },
  'items.stop': { request: z.object({ workId }).strict(), response: z.boolean() },
  'settings.get': { request: empty, response: settingsSchema },
  'settings.update': { request: settingsPatchSchema, response: settingsSchema },
  'keys.status': { request: keyRefSchema, response: z.object({ set: z.boolean() }) },
  /** The only message that carries a key, inbound only: nothing ever sends one back. */
  'keys.set': { request: z.intersection(keyRefSchema, z.object({ value: z.string().trim().min(8, 'that does not look like a key').max(4096) })), response: ok },
  'keys.clear': { request: keyRefSchema, response: ok },
  /** Check the API key with the API (what it said, when it refuses), then keep it in the keychain. */
  'account.connect': {
    request: z.object({ apiKey: z.string().trim().min(8, 'that does not look like an API key').max(4096), apiBaseUrl: keySafeUrl.optional() }).strict(),
    response: ok,
  },
  'environments.list': { request: z.object({ includeArchived: z.boolean().default(false) }).strict(), response: z.array(environmentSummarySchema) },
  'environments.stats': { request: z.object({ environmentId }).strict(), response: queueStatsSchema },
  'environments.create': { request: z.object({ name: z.string().trim().min(1, 'give the environment a name').max(200) }).strict(), response: environmentSummarySchema },
  'environments.archive': { request: z.object({ environmentId }).strict(), response: environmentSummarySchema },
  /** CPU (percent of one core) and memory of each running item's container. */
  'items.usage': { request: empty, response: z.array(z.object({ workId: z.string(), cpuPercent: z.number(), memoryBytes: count })) },
  'history.list': { request: empty, response: z.array(historyEntrySchema) },
  'logs.info': { request: z.object({ source: logSourceSchema }).strict(), response: z.object({ lines: count, bytes: count }) },
  'logs.lines': {
    request: z.object({ source: logSourceSchema, from: count, count: z.number().int().min(1).max(5000) }).strict(),
    response: z.array(z.string()),
  },
  /** Line numbers (0-based) holding the text, case-insensitive; at most `limit`, and how many in all. */
  'logs.search': {
    request: z.object({ source: logSourceSchema, query: z.string().min(1).max(1000), limit: z.number().int().min(1).max(100_000).default(10_000) }).strict(),
    response: z.object({ matches: z.array(count), total: count }),
  },
  'workspace.list': { request: z.object(session).strict(), response: z.array(workspaceEntrySchema) },
  /** One file of a finished session's workspace, base64 (at most 32 MiB). */
  'workspace.read': { request: z.object({ ...session, path: z.string().min(1).max(4096) }).strict(), response: z.object({ base64: z.string(), size: count }) },
  /** A session's connections through its egress proxy, oldest first (live while it runs, kept with its log). */
  'egress.list': { request: z.object(session).strict(), response: z.array(egressConnectionSchema) },
  /** Add one entry to an environment's allowlist (the window's one-click allow); its next sessions get it. */
  'egress.allow': { request: z.object({ environmentId, entry: allowEntry }).strict(), response: settingsSchema },
  /** Which Docker engine this Outpost uses, how it was found, what it cannot enforce, and the others found here. */
  'engine.describe': { request: empty, response: engineReportSchema },
  /** `outpost doctor`'s checks, run by the core on this machine's engine, data folder and keychain (one run at a time). */
  'machine.check': { request: empty, response: z.array(machineCheckSchema) },
} as const satisfies Record<ChannelName, { request: z.ZodType; response: z.ZodType }>;

export type Channel = ChannelName;
/** What a view sends… */
export type Request<C extends Channel> = z.input<(typeof calls)[C]['request']>;
/** …what the core's handler receives once the contract parsed it (defaults filled in)… */
export type ParsedRequest<C extends Channel> = z.output<(typeof calls)[C]['request']>;
/** …and what it must answer. */
export type Response<C extends Channel> = z.infer<(typeof calls)[C]['response']>;

/** A view the window is asked to show: the desktop app sends it when one of its notifications is clicked. */
export const openViewSchema = z.discriminatedUnion('view', [
  z.object({ view: z.literal('work') }),
  z.object({ view: z.literal('log'), ...session, title: z.string() }),
  /** First-run setup: the API key, the environment, its key. */
  z.object({ view: z.literal('setup') }),
]);
export type OpenView = z.infer<typeof openViewSchema>;

export const events = {
  'worker-state': workerStateSchema,
  'item-state': itemStateSchema,
  /** Something the user should read: a wrong key, Docker gone, a corrupt settings file. */
  notice: z.object({ level: z.enum(['info', 'warning', 'error']), message: z.string() }),
  'open-view': openViewSchema,
  /** A session's connection through its egress proxy, once it is decided (refused) or closed (allowed). */
  egress: egressConnectionSchema,
} as const;
export type EventName = keyof typeof events;
export type EventPayload<E extends EventName> = z.infer<(typeof events)[E]>;
/** One event as it travels to a view: its name and payload. */
export type ServiceEvent = { [E in EventName]: { name: E; payload: EventPayload<E> } }[EventName];

/** Every reply: an exception in the core reaches a view as data, never as a lost promise. */
export type Result<T> = { result: T } | { error: { message: string; code: ErrorCode } };
export type ErrorCode = 'invalid-request' | 'forbidden' | 'keychain-unavailable' | 'failed';

export const CHANNELS: readonly Channel[] = CHANNEL_NAMES;
export const EVENT_NAMES = Object.keys(events) as EventName[];
