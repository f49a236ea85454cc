#!/usr/bin/env node
import { RotatingFile } from '../logs/rotating-file.js';
import { join } from 'node:path';
import type { EnvironmentProfile, KeyRef } from '../../../shared/contract.js';
import { bridgeCommand, imageCommand } from './commands.js';
import { EXIT_FATAL, EXIT_USAGE, parseWorkerArgs, USAGE, type WorkerArgs } from './args.js';
import { currentHost, formerWorkerDataFolder, migrateDataFolder } from '../store/data-folder.js';
import { serviceCommand } from './service-install.js';
import { createLogger, type Logger } from '../logs/log.js';
import { survivePipeClosed, terminal } from './terminal.js';
import { Outpost } from '../outpost.js';
import { LinuxPowerSupply } from '../worker/power.js';
import { MIN_SECRET_LENGTH, Secret } from '../secrets/secret.js';
import { originOf } from '../secrets/key-origins.js';
import { readKeyFile } from './key-file.js';
import { KeytarSecretStore } from '../secrets/keytar-store.js';
import { OverlaySecretStore } from '../secrets/overlay-store.js';
import type { StoredKey } from '../secrets/secret-store.js';
import { ShutdownPolicy, stopOnSignals } from '../shutdown.js';
import { UserError } from '../base/user-error.js';
import { useWorkerV8Flags } from './worker-v8.js';
import { wipeFromInitialEnvironment } from './initial-environment.js';
import { controlPlaneFetch, proxyVariablesSet } from './network.js';

/** The headless `outpost` command: a head over the same Outpost as the desktop app. */
async function main(argv: string[]): Promise<number> {
  useWorkerV8Flags();
  survivePipeClosed();
  const [command, ...rest] = argv;
  if (command === 'image') return imageCommand(rest);
  if (command === 'bridge') return bridgeCommand(rest);
  if (command === 'service') return serviceCommand(rest);
  if (command === 'doctor') return (await import('./doctor.js')).doctorCommand(rest);
  if (command !== 'worker') {
    const help = command === undefined || command === '--help' || command === 'help';
    terminal.err(help ? USAGE : `outpost: unknown command '${command}'\n\n${USAGE}`);
    return command === '--help' || command === 'help' ? 0 : EXIT_USAGE;
  }
  const parsed = parseWorkerArgs(rest);
  if (!('args' in parsed)) {
    if (parsed.stdout) terminal.out(parsed.stdout);
    if (parsed.stderr) terminal.err(parsed.stderr);
    return parsed.exit;
  }
  // The default folder follows each OS now (store/data-folder.ts): what the worker kept in the old default moves there once.
  const explicitFolder = rest.some((a) => a === '--data-dir' || a.startsWith('--data-dir='));
  const former = explicitFolder ? undefined : formerWorkerDataFolder(currentHost());
  const moved = former ? migrateDataFolder([former], parsed.args['data-dir']) : { use: parsed.args['data-dir'], said: [] };
  return workerCommand({ ...parsed.args, 'data-dir': moved.use }, parsed.served, moved.said);
}

/** `outpost worker [--dashboard]`: open an Outpost on the data folder, serve the flags' environment, stop on signals. */
async function workerCommand(args: WorkerArgs, served: EnvironmentProfile | undefined, folderNotes: string[] = []): Promise<number> {
  // Keys come in environment variables (or a file): held in memory, and out of anything this process spawns or prints.
  // One too short to redact safely is refused rather than held (redaction skips short values: they match ordinary words).
  const short = KEY_VARIABLES.find((name) => (process.env[name] ?? '').length > 0 && process.env[name]!.length < MIN_SECRET_LENGTH);
  if (short) {
    for (const name of KEY_VARIABLES) delete process.env[name];
    terminal.err(`outpost: ${short} is too short to be a key (fewer than ${MIN_SECRET_LENGTH} characters)\n`);
    return EXIT_USAGE;
  }
  const keyFile = args['environment-key-file'];
  if (keyFile && process.env['OUTPOST_ENVIRONMENT_KEY']) {
    for (const name of KEY_VARIABLES) delete process.env[name];
    terminal.err('outpost: the environment key came twice (OUTPOST_ENVIRONMENT_KEY and --environment-key-file): give it one way\n');
    return EXIT_USAGE;
  }
  const fromFile = keyFile ? readKeyFile(keyFile, '--environment-key-file') : undefined;
  if (fromFile && 'problem' in fromFile) {
    for (const name of KEY_VARIABLES) delete process.env[name];
    terminal.err(`outpost: ${fromFile.problem}\n`);
    return EXIT_USAGE;
  }
  const environmentKey = fromFile ?? takeEnv('OUTPOST_ENVIRONMENT_KEY');
  const apiKey = takeEnv('OUTPOST_API_KEY');
  if (served && !environmentKey) {
    terminal.err('outpost: set OUTPOST_ENVIRONMENT_KEY, or --environment-key-file, to the environment key of the environment to serve\n');
    return EXIT_USAGE;
  }
  // Each bound to the origin the flags name: the user gave both at once.
  const held: Array<[KeyRef, StoredKey]> = [];
  if (served && environmentKey) held.push([{ kind: 'environment-key', environmentId: served.environmentId }, { secret: environmentKey, origin: originOf(served.baseUrl) }]);
  // --secret-env NAME: its value from this process's own NAME, held like the keys, and out of anything it spawns.
  for (const name of args['secret-env']) {
    const value = process.env[name] ?? '';
    delete process.env[name];
    if (value.length < MIN_SECRET_LENGTH) {
      terminal.err(`outpost: --secret-env ${name}: set ${name} to its value, at least ${MIN_SECRET_LENGTH} characters (a shorter one cannot be redacted safely)\n`);
      return EXIT_USAGE;
    }
    if (served) held.push([{ kind: 'env-var', environmentId: served.environmentId, name }, { secret: new Secret(value), origin: originOf(served.baseUrl) }]);
  }
  // Read and held: now out of /proc/<pid>/environ too, which deleting from process.env does not reach.
  wipeFromInitialEnvironment([...KEY_VARIABLES, ...args['secret-env']]);

  const appLogFile = join(args['data-dir'], 'logs', 'outpost.log');
  const log = headlessLog(appLogFile, args['log-format']);
  for (const note of folderNotes) log.logger.info(`data folder: ${note}`);
  const secrets = new OverlaySecretStore(new KeytarSecretStore(process.env['OUTPOST_KEYCHAIN_SERVICE'] || 'Outpost'), held);
  // The control plane through the proxy HTTPS_PROXY/HTTP_PROXY name, unless NO_PROXY matches (cli/network.ts).
  const fetch = await controlPlaneFetch(process.env);
  if (fetch) log.logger.info('control-plane calls go through the proxy the environment names', { variables: proxyVariablesSet(process.env).join(','), no_proxy: process.env['no_proxy'] ?? process.env['NO_PROXY'] ?? '' });
  const outpost = Outpost.open({
    ...(fetch ? { fetch } : {}),
    dataDir: args['data-dir'],
    // The keychain is loaded only when a key is asked for that the flags did not bring (the dashboard's setup).
    // OUTPOST_KEYCHAIN_SERVICE keeps a second install's (or a test's) keys apart from the user's own.
    secrets,
    logger: log.logger,
    appLogFile,
    // Only Linux's power supplies can be read here (--pause-on-battery is refused elsewhere).
    ...(process.platform === 'linux' ? { power: new LinuxPowerSupply() } : {}),
    ...(args['docker-host'] ? { dockerHost: args['docker-host'] } : {}),
  });
  if (args['pause-on-battery']) outpost.updateSettings({ pauseOnBattery: true });
  // The dashboard's environments view uses it; the worker never does. Bound to the API URL the flags (or else the settings) name.
  if (apiKey && args.dashboard) {
    secrets.hold({ kind: 'api-key' }, { secret: apiKey, origin: originOf(served?.provider === 'anthropic' ? served.baseUrl : outpost.settings.apiBaseUrl) });
  }
  const stopped = stopOnSignals(new ShutdownPolicy(outpost), log.logger);
  // Loaded only when asked for: the dashboard (its HTTP and WebSocket servers) costs a worker ~7 MiB.
  const dashboard = args.dashboard ? await (await import('../dashboard/headless.js')).attachDashboard(outpost, { port: args['dashboard-port'], logger: log.logger }) : undefined;
  if (dashboard === null) {
    await outpost.dispose();
    await log.close();
    return 1;
  }
  let fatal: Error | undefined;
  try {
    if (served) await outpost.serve(served);
    // Without a window, a worker that stopped itself (a wrong key) ends the command; a dashboard stays up to fix it.
    // A signal that came before the worker started is honoured too: dispose stops whatever runs.
    const untilSignal = stopped.then(() => undefined);
    fatal = await (dashboard || !served ? untilSignal : Promise.race([untilSignal, outpost.workerDone]));
  } catch (e) {
    fatal = e as Error;
  }
  await outpost.dispose();
  // What the flags asked for cannot be served (a network Docker does not have): a usage error, said in one line.
  const usage = fatal instanceof UserError;
  await dashboard?.close();
  await log.close();
  if (fatal) {
    terminal.err(`outpost: ${fatal.message}\n`);
    return usage ? EXIT_USAGE : EXIT_FATAL;
  }
  return 0;
}

const KEY_VARIABLES = ['OUTPOST_ENVIRONMENT_KEY', 'OUTPOST_API_KEY'];

function takeEnv(name: string): Secret | undefined {
  const value = process.env[name];
  delete process.env[name];
  return value ? new Secret(value) : undefined;
}

/** One log for a headless Outpost: each line to stdout and to the data folder's outpost.log (the window's app log). */
function headlessLog(file: string, format: WorkerArgs['log-format']): { logger: Logger; close: () => Promise<void> } {
  const stream = new RotatingFile(file, { maxBytes: 10 * 2 ** 20, keep: 3, mode: 0o600 });
  // A full disk or a removed folder costs the log file, not the worker.
  stream.on('error', (e) => terminal.err(`outpost: cannot write ${file}: ${e.message}\n`));
  const logger = createLogger({
    format,
    sink: {
      write: (line) => {
        terminal.out(line);
        if (stream.writable) stream.write(line);
      },
    },
  });
  return { logger, close: () => new Promise((resolve) => stream.end(resolve)) };
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    terminal.err(`outpost: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
