import { fileURLToPath } from 'node:url';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

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
    // No import cycles: a cycle makes load order decide whether a binding is initialised yet.
    // `import type` is erased at compile time, so the rule follows value imports only.
    // The TypeScript resolver maps our NodeNext '.js' specifiers to the .ts/.tsx files.
    files: ['electron/**/*.ts', 'shared/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.tsx'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: fileURLToPath(new URL('tsconfig.json', import.meta.url)) })],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/extensions': ['.ts', '.tsx', '.js'],
      // Packages are not ours to untangle, and parsing them would make lint slow.
      'import-x/external-module-folders': ['node_modules'],
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
);
