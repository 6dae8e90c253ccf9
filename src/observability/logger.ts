import { pino, type DestinationStream, type Level, type Logger } from 'pino';

/**
 * Field paths pino censors wherever they appear at the top level or one level down: record keys and
 * values, payloads, plaintexts, key material, tokens, credentials and raw headers. Library code logs
 * ids, codes, coordinates and sizes; this list is the safety net for mistakes, not the policy.
 */
export const REDACTED_FIELDS: readonly string[] = Object.freeze([
  'payload',
  'plaintext',
  'value',
  'key',
  'recordKey',
  'headers',
  'body',
  'secret',
  'secretKey',
  'privateKey',
  'seed',
  'token',
  'vaultToken',
  'postgresUrl',
  'password',
  'authorization',
  'Authorization',
  'sasl',
  'ssl',
]);

/** Redaction paths for pino: each field at the top level and under any one parent. */
export function redactionPaths(fields: readonly string[] = REDACTED_FIELDS): string[] {
  return fields.flatMap((f) => [f, `*.${f}`]);
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The `name` field of every line (e.g. the service identity). */
  readonly name?: string;
  /** Default `info`. */
  readonly level?: Level | 'silent';
  /** Where lines go; default stdout. Tests pass a stream to read the lines back. */
  readonly destination?: DestinationStream;
  /** Further fields to censor (added to {@link REDACTED_FIELDS}). */
  readonly redactFields?: readonly string[];
}

/**
 * The sealpost logger: pino, JSON lines, with redaction of sensitive fields (censored as
 * `[redacted]`) and errors serialized by pino's standard serializer under `err`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      redact: {
        paths: redactionPaths([...REDACTED_FIELDS, ...(options.redactFields ?? [])]),
        censor: '[redacted]',
      },
      serializers: { err: pino.stdSerializers.err },
    },
    options.destination,
  );
}
