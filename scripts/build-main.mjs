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
import { BUNDLE_OPTIONS, THREAD_ENTRY_POINTS } from './lib/bundle.mjs';

await build({
  ...BUNDLE_OPTIONS,
  entryPoints: { main: 'electron/main.ts', ...THREAD_ENTRY_POINTS },
  outdir: 'dist/electron',
  // Electron 45's Node.
  target: 'node22',
  external: ['electron', 'keytar'],
});
