import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The built headless worker (npm run build), as a user runs it. */
export function spawnWorker(baseUrl: string, environmentId: string, environmentKey: string, args: string[]): { proc: ChildProcess; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'outpost-bench-'));
  const proc = spawn(
    process.execPath,
    [join(root, 'dist/electron/core/cli.js'), 'worker', '--base-url', baseUrl, '--environment-id', environmentId, '--data-dir', dataDir, ...(args.includes('--egress') ? [] : ['--network', 'host']), ...args],
    { env: { ...process.env, OUTPOST_ENVIRONMENT_KEY: environmentKey }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return { proc, dataDir };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** User + system CPU seconds a process has used (Linux /proc). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function stopped(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.on('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}
