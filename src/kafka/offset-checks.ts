import { TransportError } from './transport-error.js';

/** Refuses a partition number Kafka cannot have (INVALID_ARGUMENT, before any broker call). */
export function checkPartition(partition: number): void {
  if (!Number.isInteger(partition) || partition < 0 || partition > 0x7fffffff) {
    throw new TransportError('INVALID_ARGUMENT', 'partition must be a non-negative 32-bit integer');
  }
}

const OFFSET_PATTERN = /^(0|[1-9][0-9]{0,18})$/;

/** Refuses an offset that is not a non-negative int64 in decimal (INVALID_ARGUMENT). */
export function checkOffset(offset: string): void {
  if (!OFFSET_PATTERN.test(offset) || BigInt(offset) > 0x7fffffffffffffffn) {
    throw new TransportError('INVALID_ARGUMENT', 'offset must be a non-negative int64 in decimal');
  }
}
