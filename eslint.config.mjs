// ESLint for the JavaScript the package ships (node-binding/index.js, node-binding/lib) and its
// tests and scripts: the recommended rules, Node globals.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/', 'target/', 'node-binding/native.js', 'fuzz/', 'tests/artifacts/', 'examples/express-dashboard/public/'] },
  js.configs.recommended,
  {
    files: ['node-binding/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  {
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
];
