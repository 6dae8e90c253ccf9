/**
 * One numeric option checked once, at construction: an integer in [min, max] or the default. A value
 * that is not (NaN, a string, 1.5, Infinity, out of range) throws ARGUMENT_INVALID naming the option,
 * instead of meaning something else later (`attempt >= NaN` is never true: endless retries).
 */
import { invalidArgument } from '../errors.js';

/** Longest delay a Node timer keeps (a larger one fires at once). */
export const MAX_TIMER_MS = 0x7fff_ffff;
/** Kafka's sizes are int32. */
export const MAX_KAFKA_BYTES = 0x7fff_ffff;

export function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw invalidArgument(
      `${name} must be an integer in [${min.toLocaleString('en-US')}, ${max === Number.MAX_SAFE_INTEGER ? '2^53 - 1' : max.toLocaleString('en-US')}]`,
    );
  return value;
}
