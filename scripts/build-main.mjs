/**
 * The desktop app's main process as electron-builder packs it: one esbuild bundle at
 * dist/electron/main.js (over tsc's output of the same path), and the worker threads' scripts beside
 * it (base/thread.ts looks for each beside the module that starts it: the log search, the defusing pass, the trash). So the
 * app carries no node_modules but keytar, whose native binary cannot be bundled (package.json
 * build.files), and none of what dockerode brings and Outpost never runs (scripts/lib/left-out.mjs).
 *
 *   node scripts/build-main.mjs
 */
import { build } from 'esbuild';
import { leaveOut } from './lib/left-out.mjs';

await build({
  entryPoints: {
    main: 'electron/main.ts',
    'search-worker': 'electron/core/logs/search-worker.ts',
    'defuse-thread': 'electron/core/runtime/defuse-thread.ts',
    'trash-thread': 'electron/core/store/trash-thread.ts',
  },
  outdir: 'dist/electron',
  bundle: true,
  platform: 'node',
  format: 'esm',
  // Electron 45's Node.
  target: 'node22',
  external: ['electron', 'keytar'],
  plugins: [leaveOut],
  // Packages written as CommonJS call require(): give the ES module one.
  banner: { js: "import { createRequire as __outpostRequire } from 'node:module'; const require = __outpostRequire(import.meta.url);" },
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});
