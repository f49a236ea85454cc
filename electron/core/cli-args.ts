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
  });
}
