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
import { leaveOut } from './lib/left-out.mjs';

const OUT = 'dist/electron/core';
// The last build's chunks (tsc's cli-args.js and the like have no hash).
for (const name of readdirSync(OUT)) if (/^cli-.+-[A-Z0-9]{8}\.js(\.map)?$/.test(name)) rmSync(join(OUT, name));

await build({
  // Worker threads' scripts (base/thread.ts) are found beside the module that starts them: here, beside cli.js.
  entryPoints: {
    cli: 'electron/core/cli/main.ts',
    'search-worker': 'electron/core/logs/search-worker.ts',
    'defuse-thread': 'electron/core/runtime/defuse-thread.ts',
    'trash-thread': 'electron/core/store/trash-thread.ts',
  },
  outdir: OUT,
  bundle: true,
  splitting: true,
  chunkNames: 'cli-[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['keytar'],
  plugins: [leaveOut],
  // Packages written as CommonJS call require(): give the ES module one.
  banner: { js: "import { createRequire as __outpostRequire } from 'node:module'; const require = __outpostRequire(import.meta.url);" },
  sourcemap: true,
  // V8 keeps each module's source for as long as the module lives: 2.4 MB of it unminified, held as
  // ~4.9 MiB of strings. Names are kept, so a stack trace still reads (and the source map places it).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
chmodSync(join(OUT, 'cli.js'), 0o755);
