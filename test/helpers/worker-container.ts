import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKER_IMAGE, WORKER_UID } from '../../electron/core/runtime/worker-image.js';
import { dockerCli } from './docker.js';

const SOCKET = '/var/run/docker.sock';

export interface WorkerContainer {
  name: string;
  dataDir: string;
  installId: string;
}

/**
 * `docker run … outpost-worker` as the README says: host network (the playground is on 127.0.0.1), the
 * engine's socket with its group, the data folder at the same path inside as outside (sessions bind-mount
 * its workspaces by the host's path), the key as a read-only secret file.
 */
export async function runWorkerContainer(opts: { name?: string; baseUrl: string; environmentId: string; environmentKey: string; args?: string[] }): Promise<WorkerContainer> {
  const name = opts.name ?? `outpost-worker-test-${randomUUID().slice(0, 8)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-worker-data-'));
  const installId = randomUUID();
  writeFileSync(join(dataDir, 'install-id'), `${installId}\n`);
  const secrets = mkdtempSync(join(tmpdir(), 'outpost-worker-secret-'));
  writeFileSync(join(secrets, 'environment-key'), `${opts.environmentKey}\n`, { mode: 0o400 });
  for (const path of [dataDir, join(dataDir, 'install-id'), secrets, join(secrets, 'environment-key')]) chownSync(path, WORKER_UID, WORKER_UID);
  await dockerCli(
    'run', '-d', '--name', name, '--network', 'host', '--stop-timeout', '30',
    '--group-add', String(statSync(SOCKET).gid), '-v', `${SOCKET}:${SOCKET}`,
    '-v', `${dataDir}:${dataDir}`, '-v', `${secrets}:/run/secrets:ro`,
    '--label', 'outpost.test=worker-container',
    `${WORKER_IMAGE}:latest`,
    '--base-url', opts.baseUrl, '--environment-id', opts.environmentId, ...(opts.args?.includes('--egress') ? [] : ['--network', 'host']),
    '--data-dir', dataDir, '--environment-key-file', '/run/secrets/environment-key', ...(opts.args ?? []),
  );
  return { name, dataDir, installId };
}

/** What the container printed, stdout and stderr together. */
export function containerLogs(name: string): Promise<string> {
  return new Promise((resolve) => execFile('docker', ['logs', name], { maxBuffer: 64 << 20 }, (_e, stdout, stderr) => resolve(stdout + stderr)));
}
