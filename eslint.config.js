import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parser: tseslint.parser },
  },
  {
    // The core runs under plain Node (tests, headless mode): Electron stays in electron/app and electron/main.ts.
    files: ['electron/core/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'electron', message: 'electron/core must not import electron; put the adapter in electron/app/.' }], patterns: ['electron/*'] },
      ],
    },
  },
);
