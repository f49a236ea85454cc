import tseslint from 'typescript-eslint';
import outpostRules from './scripts/lint/no-import-cycle.mjs';

const noElectron = { name: 'electron', message: 'electron/core must not import electron; put the adapter in electron/app/.' };
const noElectronSubpaths = { group: ['electron/*'], message: noElectron.message };
const oneProvider = {
  regex: '/providers/(anthropic/(?!account\\.js$)|bridge\\.js$)',
  message: 'a generic module must not depend on one provider: use providers/control-plane.ts.',
};
// The SDK's poll timing helpers (backoff, jitter) are reference behaviour any poll loop may share; its client is not.
const sdk = { regex: '^@anthropic-ai/sdk(/(resources|client|core)(/.*)?)?$', message: 'only providers/anthropic/ speaks the SDK.' };
/** no-restricted-imports' options: never electron, plus `patterns` (a later block replaces an earlier one's options, so each lists all). */
const restricted = (...patterns) => ({ paths: [noElectron], patterns: [noElectronSubpaths, ...patterns] });

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
  },
  {
    // The core runs under plain Node (tests, headless mode): Electron stays in electron/app and electron/main.ts.
    files: ['electron/core/**/*.ts', 'shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', restricted()] },
  },
  {
    // The generic core (worker, runtime, handlers, …) speaks to a control plane through providers/control-plane.ts only.
    // The composition root (outpost.ts) that creates providers, and the CLI's `bridge` command, may name them. The API-key account
    // is Anthropic's alone; the handlers use it for the environments view.
    files: ['electron/core/**/*.ts', 'shared/**/*.ts'],
    ignores: ['electron/core/providers/**', 'electron/core/outpost.ts', 'electron/core/cli/commands.ts'],
    rules: { 'no-restricted-imports': ['error', restricted(oneProvider, sdk)] },
  },
  {
    // Layers, lowest first: base/ needs nothing of the core; egress/ is networking (policy, proxy, its log) and knows no
    // Docker, no worker and no control plane — the runtime opens a session's egress, never the other way round.
    files: ['electron/core/base/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', restricted(oneProvider, sdk, { group: ['../*', '!../base/*'], message: 'base/ is the bottom layer: it imports nothing of the core.' })] },
  },
  {
    files: ['electron/core/egress/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        restricted(oneProvider, sdk, {
          group: ['../runtime/*', '../worker/*', '../providers/*', '../cli/*', '../dashboard/*', '../outpost.js', '../handlers.js'],
          message: 'egress/ sits below the runtime: networking only (the runtime opens a session\'s egress).',
        }),
      ],
    },
  },
  {
    // The warm pool sits below the supervisor: the supervisor takes warm containers from it.
    files: ['electron/core/worker/warm-pool.ts'],
    rules: { 'no-restricted-imports': ['error', restricted(oneProvider, sdk, { group: ['./supervisor.js', './worker.js'], message: 'the warm pool sits below the supervisor.' })] },
  },
  {
    // No import cycles, type-only imports included: each part sits on the ones below it (scripts/lint/no-import-cycle.mjs).
    files: ['electron/**/*.ts', 'shared/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.tsx', 'session/**/*.ts', 'playground/**/*.ts'],
    plugins: { outpost: outpostRules },
    rules: { 'outpost/no-import-cycle': 'error' },
  },
);
