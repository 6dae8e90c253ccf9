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

/** Lower-case hex of ids and digests: the keys' one definition (keys/bytes.ts). */
export { toHex as hex } from '../../keys/bytes.js';
