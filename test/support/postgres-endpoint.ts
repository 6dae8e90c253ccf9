/**
 * The PostgreSQL server the store tests use: SEALPOST_TEST_POSTGRES_URL from the environment, else from
 * `.stack/env` (written by `npm run stack -- up --with postgres`; the integration globalSetup starts it).
 * The URL holds a password: never print it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnvText } from '../../stack/env-file.js';
import { stackPaths } from '../../stack/paths.js';

export function postgresTestUrl(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.SEALPOST_TEST_POSTGRES_URL ?? '';
  if (fromEnv !== '') return fromEnv;
  const fromFile = existsSync(stackPaths.envFile)
    ? (parseEnvText(readFileSync(stackPaths.envFile, 'utf8')).SEALPOST_TEST_POSTGRES_URL ?? '')
    : '';
  if (fromFile !== '') return fromFile;
  throw new Error(
    `SEALPOST_TEST_POSTGRES_URL is set neither in the environment nor in ${stackPaths.envFile}: ` +
      'start the stack with PostgreSQL (`npm run stack -- up --with postgres`), or point the variable at a server',
  );
}
