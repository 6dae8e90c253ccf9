import { readFileSync } from 'node:fs';
import avro from 'avsc';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  type EnvelopeFields,
  EnvelopeError,
  type SessionHeaderFields,
} from '../../../src/envelope/index.js';
import { outcomeOf } from './support/outcome.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, SCHEMA_ID, type World } from './support/world.js';

const schema = avro.Type.forSchema(
  JSON.parse(
    readFileSync(new URL('../../../schemas/envelope.avsc', import.meta.url), 'utf8'),
  ) as avro.Schema,
);

interface AvscEnvelope {
  header: {
    version: number;
    suite: number;
    sessionId: Buffer;
    namespace: Buffer;
    topic: string;
    slots: { kid: Buffer; box: Buffer }[];
    commit: Buffer;
    private: Buffer;
  };
  seq: number;
  nonce: Buffer;
  ct: Buffer;
  tags: Buffer[];
}

const frame = (avroBytes: Uint8Array, id = SCHEMA_ID) =>
  Buffer.concat([
    Buffer.from([0, id >>> 24, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]),
    avroBytes,
  ]);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function decodeOutcome(w: World, bytes: Uint8Array): string {
  return outcomeOf(() => {
    decodeEnvelope(bytes, w.limits);
    return { kind: 'delivered' };
  });
}

describe('envelope codec (strict Avro for schemas/envelope.avsc)', () => {
  let p: CryptoProvider;
  let w: World;
  let sample: Uint8Array;
  let fields: EnvelopeFields;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob', 'carol']);
    const s = w.session('alice', ['bob', 'carol']);
    sample = s.seal({
      partition: 0,
      seq: 300,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'x',
      payload: p.randomBytes(40),
    }).value;
    s.close();
    fields = decodeEnvelope(sample, w.limits);
  });

  const rebuild = (
    change: (f: { header: SessionHeaderFields } & Omit<EnvelopeFields, 'header'>) => EnvelopeFields,
    id = SCHEMA_ID,
  ) => encodeEnvelope(id, change({ ...fields, header: { ...fields.header } }));

  it('avsc decodes our bytes to the same values and encodes the same bytes', () => {
    const v = schema.fromBuffer(Buffer.from(sample.subarray(5))) as AvscEnvelope;
    expect(v.header.version).toBe(1);
    expect(v.header.topic).toBe(fields.header.topic);
    expect(v.header.slots.map((s) => hex(s.kid))).toEqual(fields.header.kids.map(hex));
    expect(v.header.slots.map((s) => hex(s.box))).toEqual(fields.header.boxes.map(hex));
    expect(hex(v.header.commit)).toBe(hex(fields.header.commit));
    expect(hex(v.header.private)).toBe(hex(fields.header.private));
    expect(v.seq).toBe(300);
    expect(hex(v.nonce)).toBe(hex(fields.nonce));
    expect(hex(v.ct)).toBe(hex(fields.ct));
    expect(v.tags.map(hex)).toEqual(fields.tags.map(hex));
    expect(hex(frame(schema.toBuffer(v)))).toBe(hex(sample));
    // And our generic encoder reproduces the sealed bytes from the decoded values.
    expect(hex(encodeEnvelope(SCHEMA_ID, fields))).toBe(hex(sample));
  });

  it('agrees with avsc on random valid field values (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER - 1 }), // avsc's long stops at 2^53 − 2
        fc.integer({ min: 17, max: 3000 }),
        fc.stringMatching(/^[a-zA-Z0-9._-]{1,249}$/),
        (n, seq, ctLen, topic) => {
          const kids = Array.from({ length: n }, (_, i) => {
            const k = new Uint8Array(16);
            k[0] = i * 8;
            return k;
          });
          const env: EnvelopeFields = {
            header: {
              version: 1,
              suite: 1,
              sessionId: p.randomBytes(16),
              namespace: w.namespace,
              topic,
              kids,
              boxes: kids.map(() => p.randomBytes(128)),
              commit: p.randomBytes(32),
              private: p.randomBytes(117),
            },
            seq,
            nonce: p.randomBytes(24),
            ct: p.randomBytes(ctLen),
            tags: kids.map(() => p.randomBytes(16)),
          };
          const ours = encodeEnvelope(SCHEMA_ID, env);
          const theirs = frame(
            schema.toBuffer({
              header: {
                ...env.header,
                sessionId: Buffer.from(env.header.sessionId),
                namespace: Buffer.from(env.header.namespace),
                commit: Buffer.from(env.header.commit),
                private: Buffer.from(env.header.private),
                slots: kids.map((kid, i) => ({
                  kid: Buffer.from(kid),
                  box: Buffer.from(env.header.boxes[i]!),
                })),
              },
              seq,
              nonce: Buffer.from(env.nonce),
              ct: Buffer.from(env.ct),
              tags: env.tags.map((t) => Buffer.from(t)),
            }),
          );
          if (hex(ours) !== hex(theirs)) return false;
          const d = decodeEnvelope(ours, w.limits);
          return (
            d.seq === seq &&
            d.header.topic === topic &&
            d.header.kids.length === n &&
            d.ct.length === ctLen
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('frame: too short, bad magic, wrong schema id, trailing bytes', () => {
    expect(decodeOutcome(w, sample.subarray(0, 4))).toBe('MALFORMED:TOO_SHORT');
    const m = sample.slice();
    m[0] = 1;
    expect(decodeOutcome(w, m)).toBe('MALFORMED:BAD_MAGIC');
    expect(decodeOutcome(w, encodeEnvelope(SCHEMA_ID + 1, fields))).toBe(
      'MALFORMED:WRONG_SCHEMA_ID',
    );
    expect(decodeOutcome(w, Uint8Array.of(...sample, 0))).toBe('MALFORMED:TRAILING_BYTES');
  });

  it('non-minimal varint (avsc accepts it; we do not)', () => {
    // seq 300 = zigzag 600 = 0xd8 0x04; a non-minimal form: 0xd8 0x84 0x00.
    const at = 5 + encodeHeaderLength();
    expect([sample[at], sample[at + 1]]).toEqual([0xd8, 0x04]);
    const bad = Buffer.concat([
      sample.subarray(0, at),
      Buffer.from([0xd8, 0x84, 0x00]),
      sample.subarray(at + 2),
    ]);
    expect((schema.fromBuffer(bad.subarray(5)) as AvscEnvelope).seq).toBe(300);
    expect(decodeOutcome(w, bad)).toBe('MALFORMED:NON_CANONICAL');
    // version 1 as 0x82 0x00.
    const badVersion = Buffer.concat([
      sample.subarray(0, 5),
      Buffer.from([0x82, 0x00]),
      sample.subarray(6),
    ]);
    expect(decodeOutcome(w, badVersion)).toBe('MALFORMED:NON_CANONICAL');
    // An 11-byte varint.
    const tooLong = Buffer.concat([
      sample.subarray(0, at),
      Buffer.alloc(10, 0xff),
      Buffer.from([1]),
      sample.subarray(at + 2),
    ]);
    expect(decodeOutcome(w, tooLong)).toBe('MALFORMED:NON_CANONICAL');
  });

  function encodeHeaderLength(): number {
    return decodeEnvelope(sample, w.limits).headerBytes.length;
  }

  it('arrays: an extra block, a block with a byte size, zero or too many recipients, tag count', () => {
    // Tags written as two blocks [1 tag][1 tag] instead of one [2 tags].
    const tagsAt = sample.length - 1 - 32 - 1;
    expect(sample[tagsAt]).toBe(4); // zigzag 2
    const twoBlocks = Buffer.concat([
      sample.subarray(0, tagsAt),
      Buffer.from([2]),
      sample.subarray(tagsAt + 1, tagsAt + 17),
      Buffer.from([2]),
      sample.subarray(tagsAt + 17),
    ]);
    expect((schema.fromBuffer(twoBlocks.subarray(5)) as AvscEnvelope).tags.length).toBe(2);
    expect(decodeOutcome(w, twoBlocks)).toBe('MALFORMED:TAG_COUNT'); // the first block must hold all n
    // The full block then an extra non-empty block before the terminator.
    const extraBlock = Buffer.concat([
      sample.subarray(0, sample.length - 1),
      Buffer.from([2]),
      sample.subarray(tagsAt + 1, tagsAt + 17),
      Buffer.from([0]),
    ]);
    expect((schema.fromBuffer(extraBlock.subarray(5)) as AvscEnvelope).tags.length).toBe(3);
    expect(decodeOutcome(w, extraBlock)).toBe('MALFORMED:NON_CANONICAL');
    // The same on the slots array: an extra slot block after the 2 slots.
    const hdr = decodeEnvelope(sample, w.limits).headerBytes;
    const slotsEnd = 5 + hdr.length - 32 - 117 - 1;
    expect(sample[slotsEnd]).toBe(0);
    const extraSlot = Buffer.concat([
      sample.subarray(0, slotsEnd),
      Buffer.from([2]),
      sample.subarray(slotsEnd - 144, slotsEnd),
      sample.subarray(slotsEnd),
    ]);
    expect((schema.fromBuffer(extraSlot.subarray(5)) as AvscEnvelope).header.slots.length).toBe(3);
    expect(decodeOutcome(w, extraSlot)).toBe('MALFORMED:NON_CANONICAL');
    // A negative count followed by the block's byte size (legal Avro).
    const sized = Buffer.concat([
      sample.subarray(0, tagsAt),
      Buffer.from([3, 64]),
      sample.subarray(tagsAt + 1),
    ]);
    expect((schema.fromBuffer(sized.subarray(5)) as AvscEnvelope).tags.length).toBe(2);
    expect(decodeOutcome(w, sized)).toBe('MALFORMED:NON_CANONICAL');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, tags: f.tags.slice(0, 1) })),
      ),
    ).toBe('MALFORMED:TAG_COUNT');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, tags: [...f.tags, f.tags[0]!] })),
      ),
    ).toBe('MALFORMED:TAG_COUNT');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, header: { ...f.header, kids: [], boxes: [] }, tags: [] })),
      ),
    ).toBe('MALFORMED:NO_RECIPIENTS');
    const many = Array.from({ length: 17 }, (_, i) => Uint8Array.from({ length: 16 }, () => i));
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({
          ...f,
          header: { ...f.header, kids: many, boxes: many.map(() => new Uint8Array(128)) },
          tags: many,
        })),
      ),
    ).toBe('MALFORMED:TOO_MANY_RECIPIENTS');
    // Huge declared counts are refused before allocating.
    const hugeCount = Buffer.concat([
      sample.subarray(0, tagsAt),
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f]),
      sample.subarray(tagsAt + 1),
    ]);
    expect(decodeOutcome(w, hugeCount)).toBe('MALFORMED:TAG_COUNT');
  });

  it('kids must be strictly ascending', () => {
    const [a, b] = fields.header.kids;
    const swapped = rebuild((f) => ({
      ...f,
      header: { ...f.header, kids: [b!, a!], boxes: [...f.header.boxes].reverse() },
    }));
    expect(decodeOutcome(w, swapped)).toBe('MALFORMED:KIDS_NOT_ASCENDING');
    const dup = rebuild((f) => ({ ...f, header: { ...f.header, kids: [a!, a!] } }));
    expect(decodeOutcome(w, dup)).toBe('MALFORMED:KIDS_NOT_ASCENDING');
  });

  it('version and suite bytes 0..255: only 1 is accepted', () => {
    for (let v = 0; v < 256; v++) {
      const withVersion = rebuild((f) => ({ ...f, header: { ...f.header, version: v } }));
      const withSuite = rebuild((f) => ({ ...f, header: { ...f.header, suite: v } }));
      expect(decodeOutcome(w, withVersion)).toBe(v === 1 ? 'success' : 'MALFORMED:BAD_VERSION');
      expect(decodeOutcome(w, withSuite)).toBe(v === 1 ? 'success' : 'MALFORMED:BAD_SUITE');
    }
  });

  it('namespace, topic, seq, lengths and fixed sizes', () => {
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, header: { ...f.header, namespace: new Uint8Array(16) } })),
      ),
    ).toBe('MALFORMED:WRONG_NAMESPACE');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, header: { ...f.header, topic: '' } })),
      ),
    ).toBe('MALFORMED:BAD_TOPIC');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, header: { ...f.header, topic: 'a'.repeat(250) } })),
      ),
    ).toBe('MALFORMED:BAD_TOPIC');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, header: { ...f.header, topic: 'a b' } })),
      ),
    ).toBe('MALFORMED:BAD_TOPIC');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, seq: -1 })),
      ),
    ).toBe('MALFORMED:BAD_SEQ');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, seq: 2 ** 53 })),
      ),
    ).toBe('MALFORMED:BAD_SEQ');
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, ct: new Uint8Array(16) })),
      ),
    ).toBe('MALFORMED:BAD_LENGTH');
    // A 16-byte commitment (the wrong fixed size shifts every later field: refused).
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({
          ...f,
          header: { ...f.header, commit: f.header.commit.subarray(0, 16) },
        })),
      ),
    ).toMatch(/^MALFORMED:/);
    expect(
      decodeOutcome(
        w,
        rebuild((f) => ({ ...f, nonce: f.nonce.subarray(0, 12) })),
      ),
    ).toMatch(/^MALFORMED:/);
    const small = { ...w.limits, maxCiphertextBytes: 50 };
    expect(outcomeOf(() => (decodeEnvelope(sample, small), { kind: 'delivered' }))).toBe(
      'MALFORMED:CIPHERTEXT_TOO_LARGE',
    );
    expect(
      outcomeOf(
        () => (decodeEnvelope(sample, { ...w.limits, maxRecipients: 1 }), { kind: 'delivered' }),
      ),
    ).toBe('MALFORMED:TOO_MANY_RECIPIENTS');
  });

  it('truncation at every byte and appended bytes: MALFORMED, never anything else', () => {
    for (let i = 0; i < sample.length; i++)
      expect(decodeOutcome(w, sample.subarray(0, i))).toMatch(/^MALFORMED:/);
    for (const extra of [[0], [1, 2, 3], Array.from({ length: 100 }, () => 0xff)]) {
      expect(decodeOutcome(w, Uint8Array.of(...sample, ...extra))).toMatch(/^MALFORMED:/);
    }
  });

  it('EnvelopeError classes', () => {
    expect(new EnvelopeError('NON_CANONICAL').coarse).toBe('MALFORMED');
    expect(new EnvelopeError('UNKNOWN_SENDER').retriable).toBe(true);
  });
});
