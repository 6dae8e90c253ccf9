/**
 * The structured logger the pipeline writes to (pino satisfies it). The pipeline only ever logs
 * codes, classes, coordinates and ids — never a payload, key, token or plaintext — and a pino logger
 * built with {@link PIPELINE_LOG_REDACT_PATHS} also redacts those fields should a caller add them.
 */
export interface PipelineLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Field paths to pass to pino's `redact` option (`pino({ redact: PIPELINE_LOG_REDACT_PATHS })`). */
export const PIPELINE_LOG_REDACT_PATHS: readonly string[] = [
  'value',
  'payload',
  'plaintext',
  'key',
  'secretKey',
  'token',
  '*.value',
  '*.payload',
  '*.plaintext',
  '*.secretKey',
  '*.token',
];

/** A logger that drops everything (the default). */
export const silentLogger: PipelineLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** The loggable part of an error: class, code and retriable only (messages may name ids, never data). */
export function describeError(err: unknown): { type: string; code?: string; retriable?: boolean } {
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown; retriable?: unknown };
    return {
      type: typeof e.name === 'string' ? e.name : 'Error',
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.retriable === 'boolean' ? { retriable: e.retriable } : {}),
    };
  }
  return { type: typeof err };
}
