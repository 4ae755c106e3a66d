// Lint: type-aware rules for the whole tree, and a determinism border around workflows/.
import tseslint from 'typescript-eslint';

const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'dns', 'timers', 'process', 'worker_threads', 'stream'];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.arcentra/**', 'drizzle/**', 'dist/**', '.test-data/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    // Tests read loosely typed JSON answers.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code must be deterministic: no Node built-ins, no store, API, agent or database code.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, ...nodeBuiltins.map((m) => `node:${m}`)].map((name) => ({ name, message: 'workflows/ must stay deterministic' })),
          patterns: [
            { group: ['**/src/store/**', '**/src/api/**', '**/src/agent/**', '**/src/services/**', 'drizzle-orm*', 'postgres', '@electric-sql/*', 'express', 'ws', 'pino'], message: 'workflows/ must stay deterministic' },
            { group: ['**/activities/**'], allowTypeImports: true, message: 'workflows/ imports only types from activities/' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'fetch', 'process'],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random' }, { object: 'Date', property: 'now' }],
    },
  },
);
