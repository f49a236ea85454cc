import { parseArgs } from 'node:util';
import { EXIT_FATAL, EXIT_USAGE } from './args.js';
import { createLogger } from '../logs/log.js';
import { BridgeProvider } from '../providers/bridge.js';
import { openEngine } from '../runtime/engine.js';
import { SESSION_IMAGE } from '../runtime/labels.js';
import { buildSessionImage, packageVersion } from '../runtime/session-image.js';
import { buildWorkerImage, WORKER_IMAGE } from '../runtime/worker-image.js';
import { MIN_SECRET_LENGTH, Secret } from '../secrets/secret.js';
import { terminal } from './terminal.js';

/** `outpost bridge …` and `outpost image build [--worker]`: one-shot commands beside the worker. */

export async function bridgeCommand(args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: flags, options: { 'base-url': { type: 'string' }, 'environment-id': { type: 'string' } }, strict: true }).values;
  } catch (e) {
    terminal.err(`outpost: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const token = process.env['OUTPOST_ENVIRONMENT_KEY'];
  const baseURL = values['base-url'];
  if (!sub || !['providers', 'create', 'delete'].includes(sub) || !baseURL || !token || (sub === 'delete' && !values['environment-id'])) {
    terminal.err('outpost: usage: OUTPOST_ENVIRONMENT_KEY=TOKEN outpost bridge providers|create|delete --base-url URL [--environment-id ID]\n');
    return EXIT_USAGE;
  }
  if (token.length < MIN_SECRET_LENGTH) {
    terminal.err(`outpost: OUTPOST_ENVIRONMENT_KEY is too short to be a key (fewer than ${MIN_SECRET_LENGTH} characters)\n`);
    return EXIT_USAGE;
  }
  const secret = new Secret(token);
  const logger = createLogger({ format: 'text', sink: process.stderr });
  const provider = new BridgeProvider({ baseURL, environmentId: values['environment-id'] ?? '', token: secret, logger });
  try {
    if (sub === 'providers') {
      for (const p of await provider.listProviders()) terminal.out(`${p.provider_id}\t${p.name}\t${p.region}\t${p.available ? 'available' : 'unavailable'}\n`);
    } else if (sub === 'create') {
      terminal.out(`${(await BridgeProvider.createEnvironment({ baseURL, token: secret })).environment_id}\n`);
    } else {
      await provider.deleteEnvironment();
      terminal.out(`deleted ${values['environment-id']}\n`);
    }
    return 0;
  } catch (e) {
    terminal.err(`outpost: ${provider.describe(e)}\n`);
    return provider.isFatal(e) ? EXIT_FATAL : 1;
  }
}

export async function imageCommand(args: string[]): Promise<number> {
  const [sub, ...flags] = args;
  if (sub !== 'build' || flags.some((f) => f !== '--offline' && f !== '--worker')) {
    terminal.err(`outpost: usage: outpost image build [--worker] [--offline]\n`);
    return EXIT_USAGE;
  }
  const engine = openEngine();
  if ('problem' in engine) {
    terminal.err(`outpost: ${engine.problem}\n`);
    return EXIT_USAGE;
  }
  const offline = flags.includes('--offline');
  const [build, name] = flags.includes('--worker') ? [buildWorkerImage, WORKER_IMAGE] : [buildSessionImage, SESSION_IMAGE];
  const logger = createLogger({ format: 'text', sink: process.stdout });
  try {
    await build({ docker: engine.docker, offline, version: packageVersion(), onProgress: (line) => logger.info(line) });
  } catch (e) {
    terminal.err(`outpost: ${(e as Error).message}\n`);
    return 1;
  }
  logger.info(`built ${name}:latest and ${name}:${packageVersion()}${offline ? ' (offline)' : ''}`);
  return 0;
}
