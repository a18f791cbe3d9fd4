// Lint: typescript-eslint's recommended rules, plus the layering rule of ARCHITECTURE.md for the pure layers.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'test/fixtures/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Pure layers: no I/O, no clock, no upper layers.
    files: ['src/ln/**/*.ts', 'src/watcher/**/*.ts', 'src/keys/derive.ts', 'src/keys/bip32.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/store/**', '**/chain/**', '**/daemon/**', '**/api/**', '**/arbitrator/**', '**/resolvers/**', '**/sweep/**', '**/wallet/**'], message: 'src/ln is pure and sits below these layers' },
            { group: ['better-sqlite3', 'bitcoin-core', 'pino', 'node:fs', 'node:net', 'node:http'], message: 'no I/O in pure layers' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'Date', message: 'no clock in pure layers' }],
    },
  },
  {
    // The generic runner sits below store/ (ARCHITECTURE.md layers): persistence comes in through its Journal port.
    files: ['src/fsm/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/store/**', '**/chain/**', '**/keys/**', '**/ln/**', '**/daemon/**', '**/api/**', '**/arbitrator/**', '**/resolvers/**', '**/sweep/**', '**/wallet/**'], message: 'src/fsm depends on util/ only' },
            { group: ['better-sqlite3', 'bitcoin-core', 'pino', 'node:fs'], message: 'src/fsm reaches storage through the Journal port' },
          ],
        },
      ],
    },
  },
  {
    // The embedded node's Core-compatibility layer reaches into bcoin's untyped CommonJS internals.
    files: ['regtest/bcoin/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
