import { createRequire } from 'node:module';
import avsc from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AVRO_LIMITS } from '../../../src/registry/avro-binary-validator.js';
import { AvroCodec } from '../../../src/registry/avro-codec.js';
import { AvroDecodeError } from '../../../src/registry/avro-errors.js';
import { runFreshScript } from '../../support/fresh-process.js';

const require = createRequire(import.meta.url);

/** Zig-zag varint encoding of a (safe) integer, as Avro writes int and long. */
function varint(n: number | bigint): number[] {
  let z = BigInt(n) >= 0n ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
  const out: number[] = [];
  do {
    const low = Number(z & 0x7fn);
    z >>= 7n;
    out.push(z > 0n ? low | 0x80 : low);
  } while (z > 0n);
  return out;
}

function expectDecodeError(run: () => unknown, code: AvroDecodeError['code']): AvroDecodeError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AvroDecodeError);
    expect((err as AvroDecodeError).code).toBe(code);
    expect((err as AvroDecodeError).retriable).toBe(false);
    return err as AvroDecodeError;
  }
  throw new Error(`expected AvroDecodeError ${code}, but decoding succeeded`);
}

/** Runs `fn` and returns how long it took and how much the heap grew, in ms and MiB. */
function measure(fn: () => void): { ms: number; heapMiB: number } {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, heapMiB: (process.memoryUsage().heapUsed - heap0) / 2 ** 20 };
}

const nullArray = AvroCodec.parse(JSON.stringify({ type: 'array', items: 'null' }));
const ATTACK = Buffer.from([...varint(2 ** 31), 0x00]);

describe('hostile Avro: the array<null> attack', () => {
  it('is 6 bytes and really kills a process that lets avsc decode it unguarded', () => {
    expect(ATTACK.length).toBe(6);
    const avscPath = require.resolve('avsc');
    const script = `const avsc = require(${JSON.stringify(avscPath)});
      avsc.Type.forSchema({ type: 'array', items: 'null' }).fromBuffer(Buffer.from(${JSON.stringify([...ATTACK])}));
      console.log('survived');`;
    const child = runFreshScript(script, {
      tsx: false,
      nodeFlags: ['--max-old-space-size=96'],
      inputType: 'commonjs',
    });
    expect(child.stdout).not.toContain('survived');
    expect(child.status).not.toBe(0);
    expect(child.stderr).toMatch(/heap out of memory|Invalid array length/);
  });

  it('leaves a process with the same small heap alive when it goes through AvroCodec', () => {
    const codecUrl = new URL('../../../src/registry/avro-codec.ts', import.meta.url).href;
    const script = `const { AvroCodec } = await import(${JSON.stringify(codecUrl)});
      const codec = AvroCodec.parse(JSON.stringify({ type: 'array', items: 'null' }));
      try { codec.decode(Buffer.from(${JSON.stringify([...ATTACK])})); console.log('decoded'); }
      catch (err) { console.log('refused ' + err.code); }`;
    const child = runFreshScript(script, { nodeFlags: ['--max-old-space-size=96'] });
    expect(child.stdout.trim()).toBe('refused PAYLOAD_LIMIT_EXCEEDED');
    expect(child.status).toBe(0);
  });

  it('is refused by the codec with PAYLOAD_LIMIT_EXCEEDED, quickly and without allocating', () => {
    const { ms, heapMiB } = measure(() =>
      expectDecodeError(() => nullArray.decode(ATTACK), 'PAYLOAD_LIMIT_EXCEEDED'),
    );
    expect(ms).toBeLessThan(50);
    expect(heapMiB).toBeLessThan(16);
  });

  it('is refused in its negative-count form (count -2^31, byte size 0)', () => {
    const bytes = Buffer.from([...varint(-(2 ** 31)), ...varint(0), 0x00]);
    expectDecodeError(() => nullArray.decode(bytes), 'PAYLOAD_LIMIT_EXCEEDED');
  });

  it('bounds zero-size items summed over many small blocks, and accepts exactly the budget', () => {
    const codec = AvroCodec.parse(JSON.stringify({ type: 'array', items: 'null' }), {
      limits: { maxZeroSizeItems: 1000 },
    });
    const blocks = (n: number, per: number) =>
      Buffer.from([...Array.from({ length: n }, () => varint(per)).flat(), 0x00]);
    expect((codec.decode(blocks(10, 100)) as unknown[]).length).toBe(1000);
    expectDecodeError(() => codec.decode(blocks(11, 100)), 'PAYLOAD_LIMIT_EXCEEDED');
  });

  it('bounds empty records the same way as nulls', () => {
    const codec = AvroCodec.parse(
      JSON.stringify({ type: 'array', items: { type: 'record', name: 'Empty', fields: [] } }),
      { limits: { maxZeroSizeItems: 10 } },
    );
    expect((codec.decode(Buffer.from([...varint(10), 0])) as unknown[]).length).toBe(10);
    expectDecodeError(
      () => codec.decode(Buffer.from([...varint(2 ** 40), 0])),
      'PAYLOAD_LIMIT_EXCEEDED',
    );
  });
});

describe('hostile Avro: declared lengths and counts', () => {
  const str = AvroCodec.parse('"string"');
  const bytes = AvroCodec.parse('"bytes"');

  it('refuses a huge declared string length', () => {
    const e = expectDecodeError(
      () => str.decode(Buffer.from([...varint(2 ** 40), 0x61])),
      'PAYLOAD_MALFORMED',
    );
    expect(e.message).toContain('exceeds the remaining bytes');
  });

  it('refuses a huge declared bytes length and a negative one', () => {
    expectDecodeError(
      () => bytes.decode(Buffer.from([...varint(2 ** 53), 1, 2, 3])),
      'PAYLOAD_MALFORMED',
    );
    expectDecodeError(
      () => bytes.decode(Buffer.from([...varint(-5), 1, 2, 3])),
      'PAYLOAD_MALFORMED',
    );
  });

  it('refuses a huge declared map size without walking it', () => {
    const map = AvroCodec.parse(JSON.stringify({ type: 'map', values: 'null' }));
    const { ms } = measure(() =>
      expectDecodeError(
        () => map.decode(Buffer.from([...varint(2 ** 30), 2, 0x61, 0])),
        'PAYLOAD_MALFORMED',
      ),
    );
    expect(ms).toBeLessThan(50);
  });

  it('refuses more items than maxItems even when the bytes would hold them', () => {
    const ints = AvroCodec.parse(JSON.stringify({ type: 'array', items: 'int' }), {
      limits: { maxItems: 100 },
    });
    expect(
      ints.decode(Buffer.from([...varint(100), ...Array<number>(100).fill(2), 0])),
    ).toHaveLength(100);
    expectDecodeError(
      () => ints.decode(Buffer.from([...varint(101), ...Array<number>(101).fill(2), 0])),
      'PAYLOAD_LIMIT_EXCEEDED',
    );
  });

  it('refuses a payload longer than maxBytes before reading it', () => {
    const small = AvroCodec.parse('"bytes"', { limits: { maxBytes: 64 } });
    expectDecodeError(() => small.decode(Buffer.alloc(65)), 'PAYLOAD_TOO_LARGE');
    expect(DEFAULT_AVRO_LIMITS.maxBytes).toBe(1_048_576);
  });

  it('refuses a block whose declared byte size does not match its items', () => {
    const ints = AvroCodec.parse(JSON.stringify({ type: 'array', items: 'int' }));
    expect(ints.decode(Buffer.from([...varint(-2), ...varint(2), 2, 4, 0]))).toEqual([1, 2]);
    expectDecodeError(
      () => ints.decode(Buffer.from([...varint(-2), ...varint(3), 2, 4, 6, 0])),
      'PAYLOAD_MALFORMED',
    );
  });
});

describe('hostile Avro: nesting, truncation, trailing bytes, non-canonical encodings', () => {
  const nodeSchema = {
    type: 'record',
    name: 'Node',
    fields: [
      { name: 'value', type: 'int' },
      { name: 'next', type: ['null', 'Node'] },
    ],
  };
  const list = AvroCodec.parse(JSON.stringify(nodeSchema));
  /** A linked list `depth` nodes long: each node is value 0 then union branch 1, the last branch 0. */
  const chain = (depth: number) =>
    Buffer.from([...Array.from({ length: depth - 1 }, () => [0, ...varint(1)]).flat(), 0, 0]);

  it('decodes reasonable recursion and refuses nesting deeper than maxDepth', () => {
    expect(list.decode(chain(20))).toMatchObject({ value: 0, next: { value: 0 } });
    const e = expectDecodeError(() => list.decode(chain(100_000)), 'PAYLOAD_LIMIT_EXCEEDED');
    expect(e.message).toContain('maxDepth');
  });

  const rich = AvroCodec.parse(
    JSON.stringify({
      type: 'record',
      name: 'Order',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'qty', type: 'int' },
        { name: 'total', type: 'long' },
        { name: 'price', type: 'double' },
        { name: 'ratio', type: 'float' },
        { name: 'paid', type: 'boolean' },
        { name: 'blob', type: 'bytes' },
        { name: 'tag', type: { type: 'fixed', name: 'Tag', size: 4 } },
        {
          name: 'state',
          type: { type: 'enum', name: 'State', symbols: ['NEW', 'PAID', 'SHIPPED'] },
        },
        { name: 'note', type: ['null', 'string'] },
        { name: 'attrs', type: { type: 'map', values: 'long' } },
        {
          name: 'lines',
          type: {
            type: 'array',
            items: {
              type: 'record',
              name: 'Line',
              fields: [
                { name: 'sku', type: 'string' },
                { name: 'n', type: 'int' },
              ],
            },
          },
        },
      ],
    }),
  );
  const order = {
    id: 'o-1',
    qty: 3,
    total: 1234567890123,
    price: 9.5,
    ratio: 0.5,
    paid: true,
    blob: Buffer.from([1, 2, 3]),
    tag: Buffer.from('abcd'),
    state: 'PAID',
    note: 'leave at door',
    attrs: { a: 1, b: -2 },
    lines: [
      { sku: 'x', n: 1 },
      { sku: 'y', n: 2 },
    ],
  };
  const encoded = rich.encode(order);

  it('round-trips a value using every type', () => {
    expect(rich.decode(encoded)).toEqual(order);
  });

  it('refuses every truncation of a valid encoding', () => {
    for (let len = 0; len < encoded.length; len++) {
      expectDecodeError(() => rich.decode(encoded.subarray(0, len)), 'PAYLOAD_MALFORMED');
    }
  });

  it('refuses trailing bytes', () => {
    expectDecodeError(
      () => rich.decode(Buffer.concat([encoded, Buffer.from([0])])),
      'PAYLOAD_MALFORMED',
    );
  });

  it('refuses a non-minimal varint (which avsc itself accepts)', () => {
    const int = AvroCodec.parse('"int"');
    const padded = Buffer.from([0x82, 0x00]); // 1, padded with a redundant continuation byte
    expect(avsc.Type.forSchema('int').fromBuffer(padded)).toBe(1);
    expectDecodeError(() => int.decode(padded), 'PAYLOAD_MALFORMED');
    expectDecodeError(
      () => int.decode(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])),
      'PAYLOAD_MALFORMED',
    );
    expectDecodeError(
      () => int.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])),
      'PAYLOAD_MALFORMED',
    );
  });

  it('refuses a boolean byte other than 0 or 1, bad enum and union indexes, invalid UTF-8', () => {
    expectDecodeError(
      () => AvroCodec.parse('"boolean"').decode(Buffer.from([2])),
      'PAYLOAD_MALFORMED',
    );
    const en = AvroCodec.parse(JSON.stringify({ type: 'enum', name: 'E', symbols: ['A', 'B'] }));
    expectDecodeError(() => en.decode(Buffer.from(varint(2))), 'PAYLOAD_MALFORMED');
    expectDecodeError(() => en.decode(Buffer.from(varint(-1))), 'PAYLOAD_MALFORMED');
    const un = AvroCodec.parse(JSON.stringify(['null', 'int']));
    expectDecodeError(() => un.decode(Buffer.from(varint(2))), 'PAYLOAD_MALFORMED');
    expectDecodeError(() => un.decode(Buffer.from(varint(-1))), 'PAYLOAD_MALFORMED');
    const str = AvroCodec.parse('"string"');
    expectDecodeError(
      () => str.decode(Buffer.from([...varint(2), 0xc3, 0x28])),
      'PAYLOAD_MALFORMED',
    );
    // Invalid UTF-8 after an ASCII run (the validator's fast path), an overlong encoding, a lone surrogate.
    expectDecodeError(
      () => str.decode(Buffer.from([...varint(4), 0x61, 0x62, 0xc3, 0x28])),
      'PAYLOAD_MALFORMED',
    );
    expectDecodeError(
      () => str.decode(Buffer.from([...varint(2), 0xc0, 0xaf])),
      'PAYLOAD_MALFORMED',
    );
    expectDecodeError(
      () => str.decode(Buffer.from([...varint(3), 0xed, 0xa0, 0x80])),
      'PAYLOAD_MALFORMED',
    );
    expect(str.decode(str.encode('abé€😀'))).toBe('abé€😀');
  });

  it('turns what avsc still refuses after validation (a long beyond 2^53) into PAYLOAD_MALFORMED', () => {
    expectDecodeError(
      () => AvroCodec.parse('"long"').decode(Buffer.from(varint(2n ** 60n))),
      'PAYLOAD_MALFORMED',
    );
  });
});

describe('hostile Avro: properties', () => {
  const schemas = [
    { type: 'array', items: 'null' },
    { type: 'map', values: { type: 'array', items: 'null' } },
    {
      type: 'record',
      name: 'T',
      fields: [
        { name: 'kids', type: { type: 'array', items: 'T' } },
        { name: 's', type: 'string' },
      ],
    },
    {
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: ['null', 'string', 'bytes', 'long'] },
        { name: 'b', type: { type: 'map', values: 'double' } },
      ],
    },
    [
      'null',
      'boolean',
      'int',
      { type: 'fixed', name: 'F', size: 3 },
      { type: 'enum', name: 'En', symbols: ['X'] },
    ],
  ].map((s) =>
    AvroCodec.parse(JSON.stringify(s), {
      limits: { maxItems: 10_000, maxZeroSizeItems: 1_000, maxDepth: 32 },
    }),
  );

  /** Counts array items and map entries in a decoded value (its allocation footprint). */
  const countItems = (v: unknown): number => {
    if (Array.isArray(v)) return v.length + v.reduce((s: number, x) => s + countItems(x), 0);
    if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      return (
        Object.values(v).reduce((s: number, x) => s + countItems(x), 0) +
        (v.constructor === Object ? Object.keys(v).length : 0)
      );
    }
    return 0;
  };

  const decodeOrTypedError = (codec: AvroCodec, bytes: Uint8Array): boolean => {
    try {
      const value = codec.decode(bytes);
      return countItems(value) <= 2 * 10_000;
    } catch (err) {
      return err instanceof AvroDecodeError;
    }
  };

  it('random bytes never throw anything but AvroDecodeError and never decode beyond the limits', () => {
    const t0 = process.hrtime.bigint();
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: schemas.length - 1 }),
        fc.uint8Array({ maxLength: 64 }),
        (i, bytes) => decodeOrTypedError(schemas[i]!, bytes),
      ),
      { numRuns: 20_000 },
    );
    // 20 000 decodes of hostile input: bounded time (generous for a shared 2-core machine).
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(20_000);
  });

  it('random bytes built from large varints never throw anything but AvroDecodeError', () => {
    const bigVarints = fc.array(
      fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.integer({ min: -3, max: 3 }).map(BigInt),
      ),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: schemas.length - 1 }), bigVarints, (i, ns) =>
        decodeOrTypedError(schemas[i]!, Buffer.from(ns.flatMap(varint))),
      ),
      { numRuns: 10_000 },
    );
  });

  it('accepts everything avsc writes (the walker never rejects valid data)', () => {
    let accepted = 0;
    // avsc's random() recurses without bound on the recursive schema (index 2): leave that one out.
    for (const codec of schemas.filter((_, i) => i !== 2)) {
      const type = avsc.Type.forSchema(JSON.parse(codec.schemaText) as avsc.Schema, {
        registry: {},
      });
      for (let i = 0; i < 300; i++) {
        const value: unknown = type.random();
        const bytes = type.toBuffer(value);
        if (bytes.length > codec.limits.maxBytes) continue;
        let decoded: unknown;
        try {
          decoded = codec.decode(bytes);
        } catch (err) {
          // avsc's random values can exceed our item limits (long arrays of nulls): only limits may refuse.
          expect(err).toBeInstanceOf(AvroDecodeError);
          expect((err as AvroDecodeError).code).toBe('PAYLOAD_LIMIT_EXCEEDED');
          continue;
        }
        expect(type.toBuffer(decoded).equals(bytes)).toBe(true);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
