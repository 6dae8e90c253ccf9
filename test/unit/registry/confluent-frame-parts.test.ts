/**
 * confluentSchemaId and confluentBody (the consumer's per-record frame split, one view and no
 * object): the same id, body and refusals as decodeConfluentFrame, on a plain Uint8Array view at an
 * offset into a larger buffer (as the consumer's opened payloads are: carved from a slab).
 */
import { describe, expect, it } from 'vitest';
import { AvroDecodeError } from '../../../src/registry/avro-errors.js';
import {
  confluentBody,
  confluentSchemaId,
  decodeConfluentFrame,
  encodeConfluentFrame,
} from '../../../src/registry/confluent-wire-format.js';

describe('confluentSchemaId / confluentBody', () => {
  it('split a framed view in place as decodeConfluentFrame does', () => {
    const slab = new Uint8Array(64).fill(0xee);
    const framed = encodeConfluentFrame(0xfedcba98, Buffer.from([7, 8, 9]));
    slab.set(framed, 10);
    const view = slab.subarray(10, 10 + framed.length);
    expect(confluentSchemaId(view)).toBe(0xfedcba98);
    expect(confluentSchemaId(view)).toBe(decodeConfluentFrame(view).schemaId);
    const body = confluentBody(view);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect([...body]).toEqual([7, 8, 9]);
    expect(body.equals(decodeConfluentFrame(view).body)).toBe(true);
    // A view of the same memory, bounded to the frame (the slab's other bytes are not in it).
    expect(body.buffer).toBe(slab.buffer);
    expect(body.byteOffset).toBe(15);
    expect(confluentBody(slab.subarray(10, 15)).length).toBe(0);
  });

  it('refuses a short frame or a wrong magic byte with FRAME_INVALID', () => {
    for (const bad of [
      new Uint8Array(0),
      Uint8Array.of(0, 0, 0, 1),
      Uint8Array.of(1, 0, 0, 0, 1),
    ]) {
      let caught: unknown;
      try {
        confluentSchemaId(bad);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(AvroDecodeError);
      expect((caught as AvroDecodeError).code).toBe('FRAME_INVALID');
    }
  });
});
