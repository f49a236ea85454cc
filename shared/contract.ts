/**
 * The one contract between the core and every view (the window over IPC, the headless
 * dashboard over a WebSocket): each call's request and response, each event, as zod
 * schemas. Whatever enters the main process is parsed with these; replies are envelopes.
 */
import { z } from 'zod';
import { itemStateSchema, workerStateSchema } from './states.js';
import { CHANNEL_NAMES, type ChannelName } from './channels.js';
import { controlPlaneId } from './ids.js';

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

/** What one environment's containers get, and how this machine serves it (DESIGN §1.3). */
export const environmentProfileSchema = z.object({
  environmentId,
  /** anthropic: self-hosted environments; ainative: Bridge environments (its key is the bearer token). */
  provider: z.enum(['anthropic', 'ainative']).default('anthropic'),
  name: z.string().max(200).default(''),
  baseUrl: keySafeUrl.default('https://api.anthropic.com'),
  image: z.string().min(1).default('outpost-session:latest'),
  networkMode: z.string().min(1).default('bridge'),
  // Docker's own bounds: at least 0.01 CPUs and 6 MiB; beyond these no machine has them, and every item would fail.
  cpus: z.number().min(0.01, 'at least 0.01 CPUs').max(256, 'at most 256 CPUs').default(2),
  memoryMb: z.number().int().min(6, 'at least 6 MiB').max(1_048_576, 'at most 1048576 MiB (1 TiB)').default(4096),
  pids: z.number().int().min(16, 'at least 16 processes').max(4_194_304, 'at most 4194304 processes').default(1024),
  /** A session's log stops here, with a line saying so (issue 14 §4: a flooding session filled the disk). */
  logLimitMb: z.number().int().min(1, 'at least 1 MiB').max(1_048_576, 'at most 1048576 MiB (1 TiB)').default(100),
  maxSessions: z.number().int().min(1).max(64).default(2),
  /** Containers kept started and waiting for the next sessions (issue 15; 0: off). They count against maxSessions. */
  warm: z.number().int().min(0).max(64).default(1),
  drainSeconds: z.number().int().min(0).max(3600).default(30),
  graceSeconds: z.number().int().min(0).max(600).default(10),
  /** ainative: the command that runs each script, and how long one may run. */
  interpreter: z.array(z.string().min(1)).min(1).default(['python3']),
  timeoutSeconds: z.number().int().positive().max(86_400).default(600),
  /** Let sessions run as uid 0 in their containers (DESIGN §4: never, unless asked for here); warned at every start. */
  allowRoot: z.boolean().default(false),
});
export type EnvironmentProfile = z.infer<typeof environmentProfileSchema>;

export const settingsSchema = z.object({
  version: z.literal(1).default(1),
  /** The environment this machine serves; its profile is in `environments`. */
  servedEnvironmentId: environmentId.nullable().default(null),
  environments: z.array(environmentProfileSchema).default([]),
  startAtLogin: z.boolean().default(false),
  logRetentionDays: z.number().int().min(1).max(365).default(14),
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
  environment: patchOf(environmentProfileSchema).extend({ environmentId }).optional(),
});
export type SettingsPatch = z.input<typeof settingsPatchSchema>;

/** Which key: never the key itself. */
export const keyRefSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('api-key') }),
  z.object({ kind: z.literal('environment-key'), environmentId }),
]);
export type KeyRef = z.infer<typeof keyRefSchema>;

const empty = z.object({}).strict();
const ok = z.null();
/** A work id names a session's log and workspace: the same check as where it came in (shared/ids.ts). */
const workId = controlPlaneId;

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
export const logSourceSchema = z.discriminatedUnion('kind', [z.object({ kind: z.literal('session'), workId }), z.object({ kind: z.literal('app') })]);
export type LogSource = z.infer<typeof logSourceSchema>;

export const workspaceEntrySchema = z.object({ path: z.string(), size: count, directory: z.boolean() });

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
  'workspace.list': { request: z.object({ workId }).strict(), response: z.array(workspaceEntrySchema) },
  /** One file of a finished session's workspace, base64 (at most 32 MiB). */
  'workspace.read': { request: z.object({ workId, path: z.string().min(1).max(4096) }).strict(), response: z.object({ base64: z.string(), size: count }) },
} as const satisfies Record<ChannelName, { request: z.ZodType; response: z.ZodType }>;

export type Channel = ChannelName;
/** What a view sends… */
export type Request<C extends Channel> = z.input<(typeof calls)[C]['request']>;
/** …what the core's handler receives once the contract parsed it (defaults filled in)… */
export type ParsedRequest<C extends Channel> = z.output<(typeof calls)[C]['request']>;
/** …and what it must answer. */
export type Response<C extends Channel> = z.infer<(typeof calls)[C]['response']>;

export const events = {
  'worker-state': workerStateSchema,
  'item-state': itemStateSchema,
  /** Something the user should read: a wrong key, Docker gone, a corrupt settings file. */
  notice: z.object({ level: z.enum(['info', 'warning', 'error']), message: z.string() }),
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
