/** Record keys as the application gives them, as Kafka takes them; hex of ids. */
import { PipelineError } from '../pipeline-error.js';
import type { RecordKey } from './producer-types.js';

export function toKeyBuffer(key: RecordKey): Buffer | null {
  if (key === null) return null;
  if (typeof key === 'string') return Buffer.from(key, 'utf8');
  if (Buffer.isBuffer(key)) return key;
  if (key instanceof Uint8Array) return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  throw new PipelineError(
    'MESSAGE_INVALID',
    'a record key must be a Buffer, Uint8Array, string or null',
  );
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
/** Hex digits of short ids and digests, written here and read back as one flat string. */
const HEX_SCRATCH = Buffer.alloc(64);

/**
 * Lowercase hex of `b`. Ids and digests (up to 32 bytes) are written digit by digit into a scratch
 * buffer, never through `b.buffer`: a small Uint8Array (a message id) lives on the V8 heap, and asking
 * for its ArrayBuffer moves it off the heap, which cost more than the conversion itself.
 */
export function hex(b: Uint8Array): string {
  const n = b.length;
  if (n * 2 > HEX_SCRATCH.length) return Buffer.from(b).toString('hex');
  for (let i = 0; i < n; i++) {
    const v = b[i]!;
    HEX_SCRATCH[2 * i] = HEX_DIGITS[v >> 4]!;
    HEX_SCRATCH[2 * i + 1] = HEX_DIGITS[v & 15]!;
  }
  return HEX_SCRATCH.toString('latin1', 0, 2 * n);
}
