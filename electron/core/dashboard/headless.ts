import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import type { KeyRef } from '../../../shared/contract.js';
import { profileFromArgs, type WorkerArgs } from '../cli-args.js';
import { createLogger, type Logger } from '../log.js';
import { DataPaths } from '../paths.js';
import { DockerRuntime } from '../runtime/docker.js';
import { ensureSessionImage, packageRoot, packageVersion } from '../runtime/session-image.js';
import { Secret } from '../secret.js';
import { KeytarSecretStore } from '../secrets/keytar-store.js';
import { OverlaySecretStore } from '../secrets/overlay-store.js';
import { OutpostService } from '../service.js';
import { SettingsStore } from '../settings.js';
import { DashboardServer } from './server.js';

/**
 * `outpost worker --dashboard`: the desktop app's core without Electron, its window served
 * to a browser. With --base-url and --environment-id it serves that environment at once;
 * without them the dashboard's first-run setup chooses one.
 */
export async function runDashboard(args: WorkerArgs, environmentKey: Secret | null, console: Logger): Promise<number> {
  const paths = new DataPaths(args['data-dir']);
  const appLogFile = join(paths.root, 'logs', 'outpost.log');
  const file = createWriteStream(appLogFile, { flags: 'a' });
  // A full disk or a removed folder costs the log file, not the worker.
  file.on('error', (e) => process.stderr.write(`outpost: cannot write ${appLogFile}: ${e.message}\n`));
  const logger = createLogger({
    format: args['log-format'],
    sink: {
      write: (line) => {
        process.stdout.write(line);
        file.write(line);
      },
    },
  });
  const held: Array<[KeyRef, Secret]> = [];
  const environmentId = args['environment-id'];
  if (environmentKey && environmentId) held.push([{ kind: 'environment-key', environmentId }, environmentKey]);
  const apiKey = process.env['OUTPOST_API_KEY'];
  delete process.env['OUTPOST_API_KEY'];
  if (apiKey) held.push([{ kind: 'api-key' }, new Secret(apiKey)]);

  const runtime = new DockerRuntime();
  const service = new OutpostService({
    paths,
    settings: new SettingsStore(paths.root),
    // OUTPOST_KEYCHAIN_SERVICE keeps a second install's (or a test's) keys apart from the user's own.
    secrets: new OverlaySecretStore(new KeytarSecretStore(process.env['OUTPOST_KEYCHAIN_SERVICE'] || 'Outpost'), held),
    runtime,
    logger,
    prepare: (image) => ensureSessionImage({ runtime, image, logger, version: packageVersion() }),
    appLogFile,
  });
  const dashboard = new DashboardServer({ service, root: join(packageRoot(), 'dist', 'renderer'), logger, port: args['dashboard-port'] });
  let url: string;
  try {
    url = await dashboard.start();
  } catch (e) {
    console.error(`the dashboard cannot listen on 127.0.0.1:${args['dashboard-port']}`, { error: (e as Error).message });
    await service.dispose();
    return 1;
  }
  process.stdout.write(`Dashboard: ${url}\n`);

  if (environmentId && args['base-url']) {
    const profile = profileFromArgs({ ...args, 'base-url': args['base-url'], 'environment-id': environmentId });
    const settings = service.settings;
    await service.handle('settings.update', {
      ...settings,
      ...(args.provider === 'anthropic' ? { apiBaseUrl: args['base-url'] } : {}),
      servedEnvironmentId: environmentId,
      environments: [...settings.environments.filter((e) => e.environmentId !== environmentId), profile],
    });
    const started = await service.handle('worker.start', {});
    if ('error' in started) logger.error(started.error.message);
  }

  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (name: string) => {
      signals++;
      logger.info(signals === 1 ? `${name} received: no new work; finishing running sessions (a second signal stops them now)` : `${name} received again: stopping running sessions now`);
      void service.stopWorker(signals === 1 ? 'drain' : 'now').then(resolve);
    };
    process.on('SIGINT', () => onSignal('SIGINT'));
    process.on('SIGTERM', () => onSignal('SIGTERM'));
  });
  await stopped;
  await service.dispose();
  await dashboard.close();
  await new Promise((resolve) => file.end(resolve));
  return 0;
}
