import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../../src/registry/avro-codec.js';
import {
  AvroDecodeError,
  AvroEncodeError,
  AvroSchemaError,
} from '../../../src/registry/avro-errors.js';
import {
  decodeConfluentFrame,
  encodeConfluentFrame,
} from '../../../src/registry/confluent-wire-format.js';

const v1 = JSON.stringify({
  type: 'record',
  name: 'User',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'age', type: 'int' },
  ],
});
const v2 = JSON.stringify({
  type: 'record',
  name: 'User',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'age', type: 'long' },
    { name: 'email', type: ['null', 'string'], default: null },
  ],
});

describe('AvroCodec', () => {
  it('encodes exactly what avsc would, after the requested headroom, for small and large values', () => {
    const codec = AvroCodec.parse(v1);
    for (const name of ['ada', 'x'.repeat(10_000), 'grace']) {
      const reference = avsc.Type.forSchema(JSON.parse(v1) as avsc.Schema).toBuffer({
        name,
        age: 7,
      });
      expect(codec.encode({ name, age: 7 })).toEqual(reference);
      const framed = codec.encode({ name, age: 7 }, 5);
      expect(framed.length).toBe(5 + reference.length);
      expect(framed.subarray(5)).toEqual(reference);
      expect(codec.decode(framed.subarray(5))).toEqual({ name, age: 7 });
    }
  });

  it('keeps the schema text exactly as given (the fingerprint is over it)', () => {
    const text = ' { "type" : "string" } ';
    expect(AvroCodec.parse(text).schemaText).toBe(text);
  });

  it('resolves old data into a newer reader schema (defaults, promotions)', () => {
    const writer = AvroCodec.parse(v1);
    const reader = AvroCodec.parse(v2);
    const bytes = writer.encode({ name: 'ada', age: 36 });
    expect(writer.decode(bytes, { reader })).toEqual({ name: 'ada', age: 36, email: null });
    // The resolver is cached per reader: a second decode gives the same result.
    expect(writer.decode(bytes, { reader })).toEqual({ name: 'ada', age: 36, email: null });
  });

  it('refuses a reader schema that cannot read the writer with READER_SCHEMA_INCOMPATIBLE', () => {
    const writer = AvroCodec.parse(v1);
    const reader = AvroCodec.parse(
      JSON.stringify({ type: 'record', name: 'User', fields: [{ name: 'id', type: 'string' }] }),
    );
    try {
      writer.decode(writer.encode({ name: 'ada', age: 1 }), { reader });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AvroSchemaError);
      expect((err as AvroSchemaError).code).toBe('READER_SCHEMA_INCOMPATIBLE');
    }
  });

  it('refuses invalid schemas with SCHEMA_INVALID', () => {
    for (const text of ['{', '{"type":"record","name":"X"}', '"nope"']) {
      expect(() => AvroCodec.parse(text)).toThrow(AvroSchemaError);
    }
  });

  it('reports encode failures by path without quoting the value', () => {
    const codec = AvroCodec.parse(v1);
    try {
      codec.encode({ name: 'secret-name', age: 'not-a-number' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AvroEncodeError);
      const e = err as AvroEncodeError;
      expect(e.code).toBe('VALUE_INVALID');
      expect(e.paths).toEqual(['age']);
      expect(e.message).not.toContain('not-a-number');
      expect(e.cause).toBeUndefined();
    }
  });

  it('never quotes decoded data in decode errors', () => {
    const codec = AvroCodec.parse(
      JSON.stringify({
        type: 'record',
        name: 'R',
        fields: [
          { name: 's', type: 'string' },
          { name: 'n', type: 'long' },
        ],
      }),
    );
    // "SECRET" then a long of 2^60, which avsc refuses (precision loss) after validation passed.
    const bytes = Buffer.concat([
      Buffer.from([12]),
      Buffer.from('SECRET'),
      Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]),
    ]);
    try {
      codec.decode(bytes);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AvroDecodeError);
      expect((err as AvroDecodeError).code).toBe('PAYLOAD_MALFORMED');
      expect((err as Error).message).not.toContain('SECRET');
      expect((err as Error).cause).toBeUndefined();
    }
  });

  it('rejects invalid limits', () => {
    expect(() => AvroCodec.parse('"int"', { limits: { maxDepth: -1 } })).toThrow(AvroSchemaError);
  });
});

describe('Confluent wire format', () => {
  it('frames as 0x00 ‖ u32 id ‖ body and splits it back without copying', () => {
    const body = Buffer.from([1, 2, 3]);
    const framed = encodeConfluentFrame(0x01020304, body);
    expect([...framed]).toEqual([0, 1, 2, 3, 4, 1, 2, 3]);
    const { schemaId, body: out } = decodeConfluentFrame(framed);
    expect(schemaId).toBe(0x01020304);
    expect(out.equals(body)).toBe(true);
    expect(out.buffer).toBe(framed.buffer);
    expect(decodeConfluentFrame(encodeConfluentFrame(0xffffffff, Buffer.alloc(0))).schemaId).toBe(
      0xffffffff,
    );
  });

  it('refuses a short frame or a wrong magic byte with FRAME_INVALID', () => {
    for (const bad of [
      Buffer.alloc(0),
      Buffer.from([0, 0, 0, 1]),
      Buffer.from([1, 0, 0, 0, 1, 2]),
    ]) {
      try {
        decodeConfluentFrame(bad);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(AvroDecodeError);
        expect((err as AvroDecodeError).code).toBe('FRAME_INVALID');
      }
    }
  });

  it('refuses schema ids outside u32', () => {
    for (const id of [-1, 2 ** 32, 1.5])
      expect(() => encodeConfluentFrame(id, Buffer.alloc(0))).toThrow(
        expect.objectContaining({ code: 'ARGUMENT_INVALID' }) as Error,
      );
  });
});
