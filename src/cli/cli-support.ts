/**
 * What every command group shares: the validated config (with paths resolved against the caller's
 * working directory), the crypto provider and clock, output in table or JSON form, duration and time
 * parsing, and the translation of service errors into messages that name the fix.
 */
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, type SealpostConfig } from '../config/config.js';
import { createCryptoProvider } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ConfigError, SealpostError, isSealpostError } from '../errors.js';
import { buildTransport } from '../app/compose.js';
import type { Transport } from '../kafka/transport.js';
import { createLogger } from '../observability/logger.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { formatJson, formatTable, type CliIo } from './output.js';

/** The stack hint every "service unreachable" message ends with. */
export const STACK_HINT =
  'is the stack up? `npm run stack -- up` (then `set -a; . .stack/env; set +a`)';

/**
 * A service or library error re-worded for an operator: same `code` and `retriable` (so the exit code
 * stays right), a message that says what to do. The original error is the `cause`.
 */
export class CliHintedError extends SealpostError {
  constructor(original: SealpostError, message: string, options: { retriable?: boolean } = {}) {
    super(original.code, message, {
      retriable: options.retriable ?? original.retriable,
      cause: original,
    });
  }
}

/** Shared per-invocation context. */
export interface CliContext {
  readonly config: SealpostConfig;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** Resolves a user-given path against the caller's working directory. */
  path(p: string): string;
}

const PATH_KEYS = [
  'identityFile',
  'localKekFile',
  'vaultTokenFile',
  'vaultSecretIdFile',
  'vaultCaCertFile',
  'kafkaSslCaFile',
  'kafkaSslCertFile',
  'kafkaSslKeyFile',
  'directoryFile',
  'auditDb',
  'quarantineDb',
  'postgresPasswordFile',
  'keysDir',
] as const satisfies readonly (keyof SealpostConfig)[];

/**
 * Loads the config from the CLI's environment with per-command overrides (environment variable names,
 * e.g. `{ SEALPOST_KMS: 'vault' }` for `--kms vault`), paths made absolute against `io.cwd`.
 */
export function loadCliConfig(
  io: CliIo,
  overrides: Readonly<Record<string, string | undefined>> = {},
): SealpostConfig {
  const env: Record<string, string | undefined> = { ...io.env };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) env[k] = v;
  const config = loadConfig(env, { cwd: io.cwd });
  const resolved: Record<string, unknown> = { ...config };
  for (const key of PATH_KEYS) {
    const v = config[key];
    if (typeof v === 'string' && v !== ':memory:')
      resolved[key] = isAbsolute(v) ? v : resolve(io.cwd, v);
  }
  return resolved as SealpostConfig;
}

/** Builds the context for a command. */
export async function cliContext(
  io: CliIo,
  overrides: Readonly<Record<string, string | undefined>> = {},
): Promise<CliContext> {
  const config = loadCliConfig(io, overrides);
  const crypto = await createCryptoProvider();
  return {
    config,
    crypto,
    clock: systemClock,
    path: (p) => (isAbsolute(p) ? p : resolve(io.cwd, p)),
  };
}

/** Prints `json` with `--json`, else the table (or text) rendering. */
export function print(
  io: CliIo,
  json: boolean | undefined,
  value: unknown,
  text: () => string,
): void {
  io.out(json === true ? formatJson(value) : text());
}

/** Table of rows (re-exported for groups, so they import output helpers from one place). */
export const table = formatTable;

/** A usage error (exit 2). */
export function badInput(message: string): ConfigError {
  return new ConfigError('ARGUMENT_INVALID', message);
}

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `90s`, `15m`, `1h`, `30d`, `2w`, `500ms` into milliseconds; bad input is a usage error. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (m === null)
    throw badInput(`${option}: "${text}" is not a duration (use e.g. 90s, 15m, 1h, 30d)`);
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  if (!Number.isFinite(ms) || ms < 0 || ms > 100 * 365 * 86_400_000)
    throw badInput(`${option}: "${text}" is out of range`);
  return Math.round(ms);
}

/** Parses an ISO time (`2026-11-27T10:00:00Z`) or a duration meaning "that long ago" (`1h`). */
export function parseTime(text: string, option: string, clock: Clock): number {
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d|w)$/.test(text.trim()))
    return clock.nowMs() - parseDuration(text, option);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) {
    throw badInput(
      `${option}: "${text}" is neither an ISO time (2026-11-27T10:00:00Z) nor a duration (1h)`,
    );
  }
  return ms;
}

/** Parses a non-negative integer option. */
export function parseCount(text: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text.trim()))
    throw badInput(`${option}: "${text}" is not a non-negative integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n > max)
    throw badInput(`${option}: "${text}" is out of range (at most ${max})`);
  return n;
}

/** ISO rendering of a ms time (or empty). */
export function iso(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '' : new Date(ms).toISOString();
}

/**
 * Runs a command body and re-words errors of the services it talks to so that they name the fix.
 * Errors that are not SealpostErrors pass through unchanged.
 */
export async function withHints<T>(config: SealpostConfig, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw hinted(err, config);
  }
}

/** The re-worded error for `err` (or `err` itself when there is nothing to add). */
export function hinted(err: unknown, config: SealpostConfig): unknown {
  if (!isSealpostError(err) || err instanceof CliHintedError || err instanceof ConfigError)
    return err;
  const vault = config.vaultAddr ?? '(VAULT_ADDR unset)';
  const kafka = config.kafkaBrokers?.join(',') ?? '(KAFKA_BROKERS unset)';
  switch (err.code) {
    case 'KMS_UNAVAILABLE':
      return new CliHintedError(
        err,
        `OpenBao at ${vault} refused the connection or did not answer — ${STACK_HINT}`,
      );
    case 'KMS_SEALED':
      return new CliHintedError(
        err,
        `OpenBao at ${vault} is sealed — unseal it (\`bao operator unseal\`) or restart the stack`,
      );
    case 'KMS_AUTH_FAILED':
    case 'KMS_PERMISSION_DENIED':
      return new CliHintedError(
        err,
        `OpenBao at ${vault} refused the credentials (${err.code}) — check VAULT_TOKEN / VAULT_TOKEN_FILE or the AppRole policy for transit key "${config.vaultTransitKey}"`,
      );
    case 'KMS_KEY_NOT_FOUND':
      return new CliHintedError(
        err,
        `${err.message} — check VAULT_TRANSIT_KEY / VAULT_TRANSIT_MOUNT, or create the key with \`sealpost keys init-authority --kms vault\``,
      );
    case 'KMS_CONFIG_INVALID':
    case 'KMS_KEY_FILE_INSECURE':
      return new CliHintedError(
        err,
        `${err.message} — check SEALPOST_KMS and SEALPOST_LOCAL_KEK_FILE (\`sealpost keys init-authority\` creates the local keyring)`,
      );
    case 'KMS_TLS_FAILED':
      return new CliHintedError(err, `${err.message} — check VAULT_CACERT`);
    case 'BROKER_UNAVAILABLE':
    case 'DIRECTORY_SOURCE_UNAVAILABLE':
    case 'CHECKPOINT_TOPIC_TIMEOUT':
      return new CliHintedError(
        err,
        `Kafka at ${kafka} is unreachable or did not answer in time (${err.message}) — ${STACK_HINT}`,
      );
    case 'TOPIC_NOT_FOUND':
      // The client calls a missing topic retriable (it may be being created); for a command it is bad input.
      return badInput(`${err.message} — check the topic name (topics are not auto-created)`);
    case 'KEY_FILE_NOT_FOUND':
      return new CliHintedError(
        err,
        `${err.message} — check the path, or create it with \`sealpost keys create NAME\``,
      );
    case 'KEY_FILE_EXISTS':
      return new CliHintedError(
        err,
        `${err.message} — choose another --file, or remove the old file deliberately`,
      );
    case 'KEY_KMS_MISMATCH':
      return new CliHintedError(
        err,
        `${err.message} — the file was wrapped by another KMS: pass the matching --kms`,
      );
    case 'DIRECTORY_WRONG_AUTHORITY':
    case 'DIRECTORY_BAD_SIGNATURE':
      return new CliHintedError(
        err,
        `${err.message} — is SEALPOST_AUTHORITY_PUBLIC_KEY (or --authority-key) the authority that signed this directory?`,
      );
    case 'DIRECTORY_HEAD_EXPIRED':
      return new CliHintedError(err, `${err.message} — re-sign it: \`sealpost directory publish\``);
    default:
      return err;
  }
}

/** A transport for one CLI command, with a silent logger (errors surface as typed errors). */
export function cliTransport(ctx: CliContext, clientId: string): Transport {
  return buildTransport(ctx.config, {
    logger: createLogger({ level: 'silent' }),
    clock: ctx.clock,
    clientId,
  });
}

/** Fails with a usage error naming the fix when `topic` does not exist (reads would otherwise time out). */
export async function assertTopicExists(
  ctx: CliContext,
  topic: string,
  fix: string,
): Promise<void> {
  const admin = cliTransport(ctx, 'sealpost-cli').admin();
  await withHints(ctx.config, async () => {
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(topic))
        throw badInput(`topic ${topic} does not exist — ${fix}`);
    } finally {
      await admin.disconnect();
    }
  });
}
