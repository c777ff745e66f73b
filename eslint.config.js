// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'node_modules/', '.cache/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['fp-ts/*', '!fp-ts/lib', 'io-ts/*', '!io-ts/lib'], message: 'fp-ts and io-ts have no exports map: import fp-ts/lib/X.js' }] },
      ],
    },
  },
  {
    files: ['src/message/**', 'src/valueid/**', 'src/errors/**', 'src/testing/**'],
    // The dev queue is the testing kit's AMQP endpoint: it speaks AMQP through rhea.
    ignores: ['src/testing/dev-queue/**'],
    rules: { 'no-restricted-imports': ['error', { paths: [{ name: 'rhea', message: 'The model is pure: no rhea here.' }] }] },
  },
);
