// Lint: the recommended JS and TypeScript rules everywhere; on the shipped TypeScript (runtime/, local/) the
// type-aware ones too (recommendedTypeChecked: floating and misused promises, unsafe any, ...), which read
// the types through tsconfig.json.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const shipped = ['runtime/**/*.ts', 'local/**/*.ts'];
const testFiles = ['**/*.test.ts'];
/** The files linted with types; test/typecheck-and-lint.mjs hands them tsc's program instead of the project service. */
export const typeChecked = { files: shipped, ignores: testFiles };
export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tools/**',
      'bench/node_modules/**',
      'bench/results/**',
      'chart/**',
      'coverage/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // Unused variables, parameters and imports are TypeScript's to find (tsconfig.json: noUnusedLocals,
      // noUnusedParameters; `npm run typecheck`, run by `npm test`): it already knows every symbol's uses, where this
      // rule was a fifth of eslint's rule time, and it also finds a parameter unused before a used one.
      '@typescript-eslint/no-unused-vars': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    ...typeChecked,
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs', '**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'URL',
          'URLSearchParams',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'setImmediate',
          'fetch',
          'Buffer',
          'performance',
          'AbortController',
          'AbortSignal',
          'TextEncoder',
          'TextDecoder',
          'structuredClone',
          'queueMicrotask',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**', 'build/**', 'local/**'],
    rules: { 'no-console': 'off' },
  },
);
