'use strict';
// ESLint flat config for the binding, its tests and examples/node: `npm run lint` (which runs
// from the repository root with --config, because ESLint ignores files outside the base path
// and examples/node is outside bindings/node). scripts/test-node.sh counts any finding as a
// failure. index.d.ts is not linted (no TypeScript toolchain here).

const js = require('@eslint/js');

// Node's CommonJS globals, listed here rather than adding the `globals` package for a dozen names.
const nodeGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  __filename: 'readonly',
  process: 'readonly',
  Buffer: 'readonly',
  console: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  setImmediate: 'readonly',
  queueMicrotask: 'readonly',
  AbortController: 'readonly',
  AbortSignal: 'readonly',
};

module.exports = [
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: {
      ecmaVersion: 2022, // what Node 18 runs
      sourceType: 'commonjs',
      globals: nodeGlobals,
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'all' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }], // `x == null` (null or undefined) is kept
      'no-var': 'error',
      'prefer-const': 'error',
      strict: ['error', 'global'],
      'no-shadow': 'error',
      'no-throw-literal': 'error',
      'no-implicit-globals': 'error',
    },
  },
];
