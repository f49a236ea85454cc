import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildContext, fetchNode22, placeWithLibraries, requireBinary } from './image-context.js';
import { packageRoot, type ImageBuildOptions } from './session-image.js';

export const WORKER_IMAGE = 'outpost-worker';
/**
 * The worker's uid in its image: 65532, the uid a root Outpost gives its sessions (workspace.ts), so a
 * worker image runs its sessions as the same unprivileged uid as a root worker on the host does.
 */
export const WORKER_UID = 65532;
/** Where the worker keeps its data folder in its image: bind-mount the same host path there (sessions bind-mount its workspaces by host path). */
export const WORKER_DATA_DIR = '/var/lib/outpost';
/**
 * Production dependencies left out: keytar is native (built for this machine's Node, not the image's 22)
 * and needs libsecret; a headless worker takes its key from a file or a variable, and loads the keychain
 * only when asked for a key it was not given (secrets/keytar-store.ts), which then says why it cannot.
 * electron-updater updates the desktop app (electron/app/updates.ts): the worker never loads it.
 */
const LEFT_OUT = new Set(['keytar', 'electron-updater']);
/** The built CLI's parts the worker runs: the core, the contract, the dashboard's page, the session runner (to build the session image). */
const DIST_PARTS = ['dist/electron/core', 'dist/shared', 'dist/renderer', 'dist/session', 'package.json', 'session/Dockerfile', 'session/keeper.sh'];

/**
 * Builds the headless worker's image, `outpost-worker:VERSION` and `:latest`: Node 22, the built CLI and
 * its production dependencies only, under tini (so SIGTERM reaches node, which drains, and zombies are
 * reaped), as uid 65532, with `outpost worker` as its entrypoint. Online on node:22-bookworm-slim;
 * offline FROM scratch with Node 22 from npm and this machine's libraries (DESIGN §3).
 */
export async function buildWorkerImage(opts: ImageBuildOptions): Promise<void> {
  const root = packageRoot();
  const ctx = mkdtempSync(join(tmpdir(), 'outpost-worker-image-'));
  try {
    for (const part of DIST_PARTS) cpSync(join(root, part), join(ctx, 'app', part), { recursive: true });
    for (const dir of productionPackages(root)) cpSync(join(root, dir), join(ctx, 'app', dir), { recursive: true, dereference: true });
    const tini = await requireBinary('tini-static', 'apt-get install tini');
    await placeWithLibraries(ctx, [[tini, 'tini']]);
    mkdirSync(join(ctx, 'data'));
    if (opts.offline) await stageOfflineRootfs(join(ctx, 'rootfs'), opts.onProgress);
    writeFileSync(join(ctx, 'Dockerfile'), workerDockerfile(opts.offline));
    const tag = `${WORKER_IMAGE}:${opts.version}`;
    await buildContext(opts.docker, ctx, tag, opts.onProgress);
    await opts.docker.getImage(tag).tag({ repo: WORKER_IMAGE, tag: 'latest' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

export function workerDockerfile(offline: boolean): string {
  return [
    offline ? 'FROM scratch' : 'FROM node:22-bookworm-slim',
    ...(offline ? ['COPY rootfs/ /'] : []),
    'COPY tini /usr/bin/tini',
    'COPY app/ /opt/outpost/',
    `COPY --chown=${WORKER_UID}:${WORKER_UID} data/ ${WORKER_DATA_DIR}/`,
    `ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp NODE_ENV=production OUTPOST_DATA_DIR=${WORKER_DATA_DIR}`,
    `USER ${WORKER_UID}:${WORKER_UID}`,
    'WORKDIR /opt/outpost',
    // Node as tini's child: a signal to the container reaches the worker, which drains.
    'ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/outpost/dist/electron/core/cli.js", "worker"]',
    '',
  ].join('\n');
}

/** Node 22 and its libraries, a passwd naming the worker's uid, and a /tmp anyone may write (sticky). */
async function stageOfflineRootfs(rootfs: string, onProgress?: (line: string) => void): Promise<void> {
  const packDir = join(dirname(rootfs), 'pack');
  await placeWithLibraries(rootfs, [[await fetchNode22(packDir, onProgress), '/usr/local/bin/node']]);
  rmSync(packDir, { recursive: true, force: true });
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), `root:x:0:0:root:/root:/sbin/nologin\noutpost:x:${WORKER_UID}:${WORKER_UID}:outpost:/tmp:/sbin/nologin\n`);
  writeFileSync(join(rootfs, 'etc/group'), `root:x:0:\noutpost:x:${WORKER_UID}:\n`);
  mkdirSync(join(rootfs, 'tmp'));
  chmodSync(join(rootfs, 'tmp'), 0o1777);
}

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
}

/**
 * The folders (under node_modules) of the production dependencies, as package-lock.json resolves them,
 * without LEFT_OUT and what only it needs. Each name is looked up from its dependent's folder upwards,
 * as Node resolves it; an optional dependency not installed is skipped.
 */
export function productionPackages(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const packages = lock.packages;
  const found = new Set<string>();
  const visit = (from: string, name: string): void => {
    for (let at = from; ; at = parentOf(at)) {
      const path = `${at ? `${at}/` : ''}node_modules/${name}`;
      if (packages[path]) {
        if (found.has(path)) return;
        found.add(path);
        const pkg = packages[path];
        for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) visit(path, dep);
        return;
      }
      if (!at) return;
    }
  };
  for (const name of Object.keys(packages['']?.dependencies ?? {})) if (!LEFT_OUT.has(name)) visit('', name);
  // A nested folder travels with its parent's copy.
  return [...found].filter((path) => ![...found].some((other) => path.startsWith(`${other}/`))).sort();
}

/** node_modules/a/node_modules/b → node_modules/a; node_modules/a → '' (the package root). */
function parentOf(path: string): string {
  const cut = path.lastIndexOf('/node_modules/');
  return cut === -1 ? '' : path.slice(0, cut);
}
