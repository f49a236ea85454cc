/**
 * The headless worker as users run it (`outpost`, the service unit, the worker image): one esbuild
 * bundle at dist/electron/core/cli.js, over tsc's output of the same path (the desktop app's main
 * process is bundled too, by scripts/build-main.mjs). Loading ~400 modules one by one cost the
 * worker more memory than a bundle does, and dockerode brings what Outpost never uses
 * (bench/memory.ts; left out by scripts/lib/left-out.mjs):
 *
 * - docker-modem's ssh transport (ssh2, +13 MiB RSS on its own): DOCKER_HOST=ssh:// is refused at
 *   start (runtime/docker-host.ts); should anything reach it anyway, the stand-in says why.
 * - dockerode's BuildKit sessions and progress decoding (@grpc/grpc-js, @grpc/proto-loader,
 *   protobufjs): Outpost builds its images with the classic builder and follows progress
 *   with docker-modem's followProgress, never dockerode's.
 *
 * keytar (native) stays outside, loaded on first use (secrets/keytar-store.ts). The dashboard, its
 * HTTP and WebSocket servers, is a chunk of its own, loaded only with --dashboard.
 *
 *   node scripts/build-worker.mjs
 */
import { chmodSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_OPTIONS, THREAD_ENTRY_POINTS } from './lib/bundle.mjs';

const OUT = 'dist/electron/core';
// The last build's chunks (tsc's cli-args.js and the like have no hash).
for (const name of readdirSync(OUT)) if (/^cli-.+-[A-Z0-9]{8}\.js(\.map)?$/.test(name)) rmSync(join(OUT, name));

await build({
  ...BUNDLE_OPTIONS,
  entryPoints: { cli: 'electron/core/cli/main.ts', ...THREAD_ENTRY_POINTS },
  outdir: OUT,
  splitting: true,
  chunkNames: 'cli-[name]-[hash]',
  target: 'node20',
  external: ['keytar'],
});
chmodSync(join(OUT, 'cli.js'), 0o755);
