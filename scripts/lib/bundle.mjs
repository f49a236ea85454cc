/**
 * What the two esbuild bundles share (the worker's, scripts/build-worker.mjs, and the desktop app's main
 * process, scripts/build-main.mjs): the worker threads' scripts, which base/thread.ts finds beside the
 * module that starts them, and the options.
 */
import { leaveOut } from './left-out.mjs';

export const THREAD_ENTRY_POINTS = {
  'search-worker': 'electron/core/logs/search-worker.ts',
  'defuse-thread': 'electron/core/runtime/defuse-thread.ts',
  'trash-thread': 'electron/core/store/trash-thread.ts',
};

export const BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  plugins: [leaveOut],
  // Packages written as CommonJS call require(): give the ES module one.
  banner: { js: "import { createRequire as __outpostRequire } from 'node:module'; const require = __outpostRequire(import.meta.url);" },
  sourcemap: true,
  // V8 keeps each module's source for as long as the module lives: 2.4 MB of it unminified, held as
  // ~4.9 MiB of strings. Names are kept, so a stack trace still reads (and the source map places it).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
};
