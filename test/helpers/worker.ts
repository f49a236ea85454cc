import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerProcess {
  proc: ChildProcess;
  dataDir: string;
  output: () => string;
  installId: () => string;
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<void>;
  exited: Promise<number | null>;
  signal: (sig: NodeJS.Signals) => void;
}

/** Runs the real headless command (`outpost worker …`) from source, as a child process. */
export function startWorker(opts: {
  /** Without these three, only a dashboard (`args: ['--dashboard']`) starts: its first run sets them. */
  baseUrl?: string;
  environmentId?: string;
  environmentKey?: string;
  args?: string[];
  dataDir?: string;
  env?: Record<string, string>;
  /**
   * Run the worker as this user (its data folder made theirs), as a desktop Outpost runs: not root.
   * Through setpriv, which execs in place (signals reach the worker) and keeps the user's groups (docker).
   */
  user?: { uid: number; gid: number; home: string };
  /** A command the worker runs under, that execs it in place (a mount namespace of its own, say). */
  prefix?: string[];
}): WorkerProcess {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'outpost-test-'));
  // Known before the worker starts, so a test can look for this install's containers at once.
  if (!existsSync(join(dataDir, 'install-id'))) writeFileSync(join(dataDir, 'install-id'), randomUUID());
  if (opts.user) for (const path of [dataDir, join(dataDir, 'install-id')]) chownSync(path, opts.user.uid, opts.user.gid);
  const command = [
    process.execPath,
    '--import',
    'tsx',
    join(root, 'electron/core/cli/main.ts'),
    'worker',
    ...(opts.baseUrl ? ['--base-url', opts.baseUrl] : []),
    ...(opts.environmentId ? ['--environment-id', opts.environmentId] : []),
    '--data-dir',
    dataDir,
    // Loopback only in tests (DESIGN §3): open with host networking, unless the test chooses a policy.
    ...(opts.args?.includes('--egress') ? [] : ['--network', 'host']),
    ...(opts.args ?? []),
  ];
  const asUser = opts.user ? ['setpriv', `--reuid=${opts.user.uid}`, `--regid=${opts.user.gid}`, '--init-groups', '--'] : [];
  const [program, ...args] = [...(opts.prefix ?? []), ...asUser, ...command];
  const proc = spawn(program!, args, {
    cwd: root,
    env: { ...process.env, ...(opts.user ? { HOME: opts.user.home } : {}), ...opts.env, OUTPOST_ENVIRONMENT_KEY: opts.environmentKey ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    dataDir,
    output: () => out,
    installId: () => readFileSync(join(dataDir, 'install-id'), 'utf8').trim(),
    exited,
    signal: (sig) => proc.kill(sig),
    waitForOutput: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
  };
}

/** Poll `check` until it returns truthy or the time is up. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A desktop user in the docker group, as a laptop's Outpost runs: made once on this machine. */
export function desktopUser(): { uid: number; gid: number; home: string } {
  const name = 'outposttest';
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-G', 'docker', name]);
  }
  const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g'), home: `/home/${name}` };
}
