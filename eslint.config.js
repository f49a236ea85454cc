import tseslint from 'typescript-eslint';
import outpostRules from './scripts/lint/no-import-cycle.mjs';

const noElectron = { name: 'electron', message: 'electron/core must not import electron; put the adapter in electron/app/.' };
const noElectronSubpaths = { group: ['electron/*'], message: noElectron.message };

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
  },
  {
    // The core runs under plain Node (tests, headless mode): Electron stays in electron/app and electron/main.ts.
    files: ['electron/core/**/*.ts', 'shared/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [noElectron], patterns: [noElectronSubpaths] }] },
  },
  {
    // The generic core (worker, runtime, service, …) speaks to a control plane through providers/control-plane.ts only.
    // The composition root (outpost.ts) that creates providers, and the CLI's `bridge` command, may name them. The API-key account
    // is Anthropic's alone; the service uses it for the environments view.
    files: ['electron/core/**/*.ts', 'shared/**/*.ts'],
    ignores: ['electron/core/providers/**', 'electron/core/outpost.ts', 'electron/core/cli/commands.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [noElectron],
          patterns: [
            noElectronSubpaths,
            {
              regex: '/providers/(anthropic/(?!account\\.js$)|bridge\\.js$)',
              message: 'a generic module must not depend on one provider: use providers/control-plane.ts.',
            },
            // The SDK's poll timing helpers (backoff, jitter) are reference behaviour any poll loop may share; its client is not.
            { regex: '^@anthropic-ai/sdk(/(resources|client|core)(/.*)?)?$', message: 'only providers/anthropic/ speaks the SDK.' },
          ],
        },
      ],
    },
  },
  {
    // No import cycles, type-only imports included: each part sits on the ones below it (scripts/lint/no-import-cycle.mjs).
    files: ['electron/**/*.ts', 'shared/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.tsx', 'session/**/*.ts', 'playground/**/*.ts'],
    plugins: { outpost: outpostRules },
    rules: { 'outpost/no-import-cycle': 'error' },
  },
);
