import { EnvelopeError } from '../../../../src/envelope/index.js';

/** The `code` of what `fn` throws (or 'NO_THROW'). */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return typeof err === 'object' && err !== null && 'code' in err
      ? String(err.code)
      : `FOREIGN:${String(err)}`;
  }
  return 'NO_THROW';
}

/**
 * The outcome of an open in vector notation: `success`, `not-addressed`, `duplicate`, `throttled`,
 * `<coarse>:<code>` for an EnvelopeError, or `UNCAUGHT:<name>` for anything else (a bug).
 */
export function outcomeOf(fn: () => { kind: string }): string {
  try {
    const r = fn();
    return r.kind === 'delivered' ? 'success' : r.kind;
  } catch (err) {
    if (err instanceof EnvelopeError) return `${err.coarse}:${err.code}`;
    return `UNCAUGHT:${err instanceof Error ? `${err.name}:${err.message}` : String(err)}`;
  }
}
