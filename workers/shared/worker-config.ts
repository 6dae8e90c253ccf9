/**
 * The workers' start-up: the configuration checked for the worker's role with the same code as
 * `sealpost config check --role` (src/config/role-check.ts), every problem reported at once on stderr
 * with exit 2; and any later start-up failure reported as one line with its code (exit 1), never a
 * stack trace (docs/OPERATIONS.md, "Running the workers").
 */
import type { SealpostConfig } from '../../src/config/config.js';
import { checkConfig, type Role } from '../../src/config/role-check.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { isSealpostError } from '../../src/errors.js';
import { parseIdentityFile } from '../../src/keys/identity-file.js';

/** Where the start-up report goes and how the process ends (replaced in tests). */
export interface StartupIo {
  readonly err: (text: string) => void;
  readonly exit: (code: number) => never;
}

export const processStartupIo: StartupIo = {
  err: (t) => process.stderr.write(t),
  exit: (code) => process.exit(code),
};

/** The checked config for this worker's role, or the report and exit 2. */
export function workerConfig(
  name: string,
  role: Role,
  env: Readonly<Record<string, string | undefined>>,
  deps: { crypto: CryptoProvider; io?: StartupIo },
): SealpostConfig {
  const io = deps.io ?? processStartupIo;
  const { config, problems } = checkConfig(env, role, {
    validateIdentityFile: (json) => parseIdentityFile(json, deps.crypto),
  });
  if (config === undefined) {
    io.err(
      `${name}: invalid configuration for ${role} (${problems.length} problem${problems.length === 1 ? '' : 's'}; ` +
        `see \`sealpost config check --role ${role}\`):\n  - ${problems.join('\n  - ')}\n`,
    );
    return io.exit(2);
  }
  return config;
}

/** Runs a worker's start-up; a failure is one line on stderr (code and message) and exit 1. */
export async function startOrExit(
  name: string,
  start: () => Promise<void>,
  io: StartupIo = processStartupIo,
): Promise<void> {
  try {
    await start();
  } catch (err) {
    const code = isSealpostError(err) ? ` [${err.code}]` : '';
    const message = err instanceof Error ? err.message : String(err);
    io.err(`${name}: cannot start${code}: ${message}\n`);
    io.exit(1);
  }
}
