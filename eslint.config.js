import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'bench/scratch/', 'coverage/', '.scratch/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // ioredis's monitor() turns its connection to monitor mode only after MONITOR's reply has
    // been handled, so a command Redis runs right after can throw "Command queue state error"
    // from the socket (it failed a CI run): test/helpers/monitor.ts reads MONITOR off a socket.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'tools/**/*.ts', 'src/**/*.ts', 'actors/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='monitor'][arguments.length=0]", message: "ioredis's monitor() races its own reply; use monitorRedis from test/helpers/monitor.ts" },
      ],
    },
  },
  {
    // The machines are the pure core: no I/O, no timers of their own.
    files: ['machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['ioredis', 'node:*', 'net', 'fs', 'child_process', '../src/*', '../actors/*'] }],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'process'],
    },
  },
);
