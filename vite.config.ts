import { defineConfig } from 'vite';

// The window's renderer: React, built to dist/renderer, loaded by Electron (and by the headless dashboard).
export default defineConfig({
  root: 'renderer',
  base: './',
  build: { outDir: '../dist/renderer', emptyOutDir: true },
});
