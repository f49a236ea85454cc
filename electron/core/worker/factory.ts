import { hostname } from 'node:os';
import type { EnvironmentProfile } from '../../../shared/contract.js';
import type { Logger } from '../log.js';
import type { DataPaths } from '../paths.js';
import { AnthropicProvider } from '../providers/anthropic/provider.js';
import { BridgeProvider } from '../providers/bridge.js';
import type { DockerRuntime } from '../runtime/docker.js';
import type { Secret } from '../secret.js';
import { Worker } from './worker.js';

export interface ServeOptions {
  profile: EnvironmentProfile;
  /** The environment key (Anthropic) or bearer token (Bridge). */
  key: Secret;
  runtime: DockerRuntime;
  paths: DataPaths;
  logger: Logger;
  installId: string;
  instanceId: string;
  prepare?: () => Promise<void>;
}

/** The worker that serves one environment profile: its control plane, limits and image. Shared by the app, the dashboard and the CLI. */
export function createWorker({ profile, key, runtime, paths, logger, installId, instanceId, prepare }: ServeOptions): Worker {
  const provider =
    profile.provider === 'ainative' ?
      new BridgeProvider({
        baseURL: profile.baseUrl,
        environmentId: profile.environmentId,
        token: key,
        logger,
        interpreter: profile.interpreter,
        timeoutMs: profile.timeoutSeconds * 1000,
      })
    : new AnthropicProvider({
        baseURL: profile.baseUrl,
        environmentId: profile.environmentId,
        environmentKey: key,
        // Stable per install, unique per process (DESIGN §1.1).
        workerId: `${hostname()}-${installId.slice(0, 8)}-${instanceId.slice(0, 8)}`,
        logger,
      });
  return new Worker({
    provider,
    runtime,
    paths,
    logger,
    installId,
    instanceId,
    maxSessions: profile.maxSessions,
    session: {
      image: profile.image,
      networkMode: profile.networkMode,
      limits: { cpus: profile.cpus, memoryMb: profile.memoryMb, pids: profile.pids },
      graceSeconds: profile.graceSeconds,
    },
    ...(prepare ? { prepare } : {}),
  });
}
