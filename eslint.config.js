// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Globals that make code untestable: only src/runtime/ (and entry points) may touch them. */
const impureGlobals = [
  {
    selector: "MemberExpression[object.name='Date'][property.name='now']",
    message: 'Use the injected Clock (src/runtime/clock.ts).',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'Use the injected Clock.',
  },
  {
    selector: "MemberExpression[object.name='Math'][property.name='random']",
    message: 'Use the injected random source (src/runtime/random.ts).',
  },
  {
    selector: "MemberExpression[object.name='process'][property.name='env']",
    message:
      'Library code takes options; only src/runtime/env.ts and entry points read the environment.',
  },
  { selector: "CallExpression[callee.name='fetch']", message: 'Take fetch as an argument.' },
];

/**
 * One owner per outside library (house style): each package may be imported only by the files listed
 * with it. ESLint's flat config lets a later block replace an earlier block's options for the same
 * rule, so every file gets exactly one `no-restricted-imports` block naming every package it may not
 * import (the layering rule below uses the typescript-eslint variant of the rule, so both apply).
 */
const owners = [
  { files: ['src/kafka/**/*.ts'], pkgs: ['kafkajs'] },
  // The second Kafka adapter (docs/TRANSPORTS.md); listed after src/kafka/** so its block wins there.
  { files: ['src/kafka/platformatic-*.ts'], pkgs: ['@platformatic/kafka'] },
  // kafkajs' native CRC32C (loaded with require by its module path, so listed for the record).
  { files: ['src/kafka/kafkajs-crc32c.ts'], pkgs: ['@node-rs/crc32'] },
  { files: ['src/registry/**/*.ts'], pkgs: ['avsc', '@kafkajs/confluent-schema-registry'] },
  { files: ['src/keys/kms/**/*.ts'], pkgs: ['node-vault'] },
  { files: ['src/crypto/libsodium-wrappers-provider.ts'], pkgs: ['libsodium-wrappers'] },
  { files: ['src/crypto/sodium-native-provider.ts'], pkgs: ['sodium-native'] },
  { files: ['src/**/sqlite-*.ts'], pkgs: ['better-sqlite3'] },
  { files: ['src/stores/postgres-database.ts'], pkgs: ['pg'] },
  { files: ['src/observability/tracing.ts'], pkgs: ['@opentelemetry/api'] },
];
const restrict = (allowed) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: owners
        .filter((o) => o !== allowed)
        .flatMap((o) =>
          o.pkgs.map((name) => ({ name, message: `Only ${o.files.join(', ')} imports ${name}.` })),
        ),
    },
  ],
});
const ownership = [
  { files: ['src/**/*.ts'], ignores: owners.flatMap((o) => o.files), rules: restrict(undefined) },
  ...owners.map((o) => ({ files: o.files, rules: restrict(o) })),
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.stack/**', 'coverage/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/runtime/**', 'src/cli/main.ts'],
    rules: { 'no-restricted-syntax': ['error', ...impureGlobals] },
  },
  // Layering: the pure envelope core does no I/O and imports no outside client.
  {
    files: ['src/envelope/**/*.ts', 'src/crypto/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:fs*',
                'node:net',
                'node:http*',
                'node:child_process',
                'fs',
                'net',
                'http',
                'https',
              ],
              message: 'envelope/ and crypto/ do no I/O.',
            },
            {
              group: [
                '**/pipeline/**',
                '**/kafka/**',
                '**/registry/**',
                '**/keys/**',
                '**/cli/**',
                '**/audit/**',
                '**/dlq/**',
              ],
              message: 'Dependencies point one way: envelope/crypto depend only on errors/runtime.',
            },
          ],
          paths: ['kafkajs', 'avsc', 'node-vault', '@kafkajs/confluent-schema-registry'].map(
            (name) => ({ name, message: 'envelope/ and crypto/ are pure.' }),
          ),
        },
      ],
    },
  },
  ...ownership,
  {
    files: ['test/**/*.ts', 'stack/**/*.ts', 'scripts/**/*.ts', 'bench/**/*.ts', 'workers/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
