import { invalidArgument } from '../errors.js';
import { AvroDecodeError } from './avro-errors.js';

/** The Confluent wire format's magic byte. */
export const CONFLUENT_MAGIC_BYTE = 0x00;
/** Bytes before the Avro body: magic (1) + schema id (4). */
export const CONFLUENT_HEADER_BYTES = 5;
const MAX_SCHEMA_ID = 0xffffffff;

/** A Confluent-framed payload split into its parts. `body` is a view into the input, not a copy. */
export interface ConfluentFrame {
  readonly schemaId: number;
  readonly body: Buffer;
}

/** Frames an Avro body: `0x00 ‖ u32 schemaId (big-endian) ‖ body`. */
export function encodeConfluentFrame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(CONFLUENT_HEADER_BYTES + body.length);
  out.set(body, CONFLUENT_HEADER_BYTES);
  return writeConfluentHeader(out, schemaId);
}

/** Writes the frame header (magic, schema id) into the first 5 bytes of `framed`; returns it. */
export function writeConfluentHeader(framed: Buffer, schemaId: number): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw invalidArgument('schemaId must be an unsigned 32-bit integer');
  }
  if (framed.length < CONFLUENT_HEADER_BYTES)
    throw invalidArgument('frame shorter than its header');
  framed[0] = CONFLUENT_MAGIC_BYTE;
  framed.writeUInt32BE(schemaId, 1);
  return framed;
}

/** Splits a framed payload. Throws AvroDecodeError FRAME_INVALID for a short input or wrong magic. */
export function decodeConfluentFrame(framed: Uint8Array): ConfluentFrame {
  const schemaId = confluentSchemaId(framed);
  return { schemaId, body: confluentBody(framed) };
}

/**
 * The schema id of a framed payload (checked as decodeConfluentFrame checks it), without a view or
 * an object: a per-record caller makes the one body view it needs (confluentBody).
 */
export function confluentSchemaId(framed: Uint8Array): number {
  if (framed.length < CONFLUENT_HEADER_BYTES) {
    throw new AvroDecodeError(
      'FRAME_INVALID',
      `framed payload shorter than ${CONFLUENT_HEADER_BYTES} bytes`,
    );
  }
  if (framed[0] !== CONFLUENT_MAGIC_BYTE) {
    throw new AvroDecodeError('FRAME_INVALID', 'framed payload does not start with magic byte 0');
  }
  return ((framed[1]! << 24) | (framed[2]! << 16) | (framed[3]! << 8) | framed[4]!) >>> 0;
}

/** The Avro body of a framed payload whose frame confluentSchemaId checked: one Buffer view. */
export function confluentBody(framed: Uint8Array): Buffer {
  return Buffer.from(
    framed.buffer,
    framed.byteOffset + CONFLUENT_HEADER_BYTES,
    framed.byteLength - CONFLUENT_HEADER_BYTES,
  );
}
