import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { placeWithLibraries } from '../../electron/core/runtime/image-context.js';
import { HANDOVER_KEEPER, HANDOVER_LABEL, KEEPER_ENTRYPOINT } from '../../electron/core/runtime/labels.js';

const run = promisify(execFile);
export const docker = new Docker();
const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A small image derived from outpost-test-base (busybox, built locally by test/images/build.sh)
 * whose entrypoint runs `script` under sh. Built once per tag per test run.
 */
export async function buildScriptImage(tag: string, script: string): Promise<string> {
  return buildDockerfile(tag, `FROM outpost-test-base:latest\nENTRYPOINT ["/bin/sh", "-c", ${JSON.stringify(script)}]\n`);
}

/** An image from a Dockerfile with no context. */
export async function buildDockerfile(tag: string, dockerfile: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('docker', ['build', '-q', '-t', tag, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker build ${tag} failed: ${err}`))));
    child.stdin.end(dockerfile);
  });
  return tag;
}

/** Containers carrying Outpost's labels for one data folder (install). */
export async function outpostContainers(installId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`outpost.install=${installId}`] } });
}

/** Inspect every container of the install; one removed between the list and its inspect is left out. */
export async function inspectAll(installId: string): Promise<Docker.ContainerInspectInfo[]> {
  const list = await outpostContainers(installId);
  const inspected = await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .inspect()
        .catch((e: { statusCode?: number }) => {
          if (e.statusCode === 404) return null;
          throw e;
        }),
    ),
  );
  return inspected.filter((c): c is Docker.ContainerInspectInfo => c !== null);
}

export async function dockerCli(...args: string[]): Promise<string> {
  return (await run('docker', args)).stdout;
}

/**
 * Outpost's session image with this checkout's keeper and runner (session/keeper.sh,
 * dist/session/runner.mjs: npm run build) and the label that lets the worker keep it warm: the shared
 * outpost-session:latest may have been built by an older checkout, whose entrypoint is the runner itself
 * and whose offline build has no setpriv (the keeper's way to the session's uid): this machine's is
 * copied in, with the libraries ldd lists, as the offline build does.
 */
export async function buildHandoverImage(tag: string): Promise<string> {
  const context = mkdtempSync(join(tmpdir(), 'outpost-handover-image-'));
  try {
    copyFileSync(join(root, 'dist/session/runner.mjs'), join(context, 'runner.mjs'));
    copyFileSync(join(root, 'session/keeper.sh'), join(context, 'keeper'));
    chmodSync(join(context, 'keeper'), 0o755);
    await placeWithLibraries(join(context, 'rootfs'), [['/usr/bin/setpriv', '/usr/bin/setpriv']]);
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        'FROM outpost-session:latest',
        'COPY rootfs/ /',
        'COPY runner.mjs /opt/outpost/runner.mjs',
        'COPY keeper /opt/outpost/keeper',
        `ENTRYPOINT ["${KEEPER_ENTRYPOINT}"]`,
        `LABEL ${HANDOVER_LABEL}=${HANDOVER_KEEPER}`,
        '',
      ].join('\n'),
    );
    await run('docker', ['build', '-q', '-t', tag, context]);
    return tag;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
