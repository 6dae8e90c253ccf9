import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { AEAD_TAG_BYTES, decodeEnvelope, EnvelopeError } from '../../../src/envelope/index.js';
import { inspectEnvelope } from '../../../src/envelope/inspect-envelope.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, SCHEMA_ID, TOPIC, type World } from './support/world.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const LIMIT = { maxCiphertextBytes: 2 * 1024 * 1024 };

describe('inspectEnvelope (structure without pinned schema id, namespace or keys)', () => {
  let p: CryptoProvider;
  let w: World;
  let sample: Uint8Array;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob', 'carol']);
    const s = w.session('alice', ['bob', 'carol']);
    sample = s.seal({
      partition: 0,
      seq: 7,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'x',
      payload: p.randomBytes(40),
    }).value;
    s.close();
  });

  it('reports the same fields the strict decoder sees, with schema id and namespace from the bytes', () => {
    const d = decodeEnvelope(sample, w.limits);
    const s = inspectEnvelope(sample, LIMIT);
    expect(s.schemaId).toBe(SCHEMA_ID);
    expect(s.namespace).toBe(hex(w.namespace));
    expect(s.version).toBe(1);
    expect(s.suite).toBe(1);
    expect(s.topic).toBe(TOPIC);
    expect(s.sessionId).toBe(hex(d.header.sessionId));
    expect(s.recipientKids).toEqual([...d.header.kids].map(hex));
    expect(s.recipientKids).toHaveLength(2);
    expect(s.recipientKids).toContain(hex(w.id('bob').boxKid));
    expect(s.commitment).toBe(hex(d.header.commit));
    expect(s.seq).toBe(7);
    expect(s.nonce).toBe(hex(d.nonce));
    expect(s.tagCount).toBe(2);
    expect(s.sizes).toEqual({
      total: sample.length,
      header: d.headerBytes.length,
      privatePart: d.header.private.length,
      ciphertext: d.ct.length,
      paddedLength: d.ct.length - AEAD_TAG_BYTES,
    });
  });

  it('works for any schema id (no pinned configuration)', () => {
    const other = Uint8Array.from(sample);
    other[4] = 99;
    expect(inspectEnvelope(other, LIMIT).schemaId).toBe(99);
  });

  it('refuses what is not a canonical envelope with a MALFORMED EnvelopeError', () => {
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'TOO_SHORT'],
      [Buffer.from('{"hello":"json"}'), 'BAD_MAGIC'],
      [sample.subarray(0, sample.length - 3), 'TRUNCATED'],
      [Buffer.concat([sample, Buffer.from([0])]), 'TRAILING_BYTES'],
    ];
    for (const [bytes, code] of cases) {
      let caught: unknown;
      try {
        inspectEnvelope(bytes, LIMIT);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(EnvelopeError);
      expect((caught as EnvelopeError).code).toBe(code);
      expect((caught as EnvelopeError).coarse).toBe('MALFORMED');
    }
    const badVersion = Uint8Array.from(sample);
    badVersion[5] = 4; // version 2
    expect(() => inspectEnvelope(badVersion, LIMIT)).toThrow(EnvelopeError);
  });

  it('applies the ciphertext limit', () => {
    expect(() => inspectEnvelope(sample, { maxCiphertextBytes: 20 })).toThrow(
      /CIPHERTEXT_TOO_LARGE/,
    );
  });
});

describe('inspectEnvelope on a suite-2 (X-Wing) record', () => {
  it('reports suite 2 and its 1,216-byte slots, whatever the schema id', async () => {
    const p = await loadProvider('sodium-native');
    const w = makeWorld(p, ['alice', 'bob']);
    const s = w.session('alice', ['bob'], { suite: 2 });
    const v = s.seal({
      partition: 0,
      seq: 1,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'x',
      payload: p.randomBytes(10),
    }).value;
    s.close();
    const d = decodeEnvelope(v, w.limits);
    const st = inspectEnvelope(v, LIMIT);
    expect([st.suite, st.recipientKids, st.sizes.header]).toEqual([
      2,
      [hex(w.id('bob').xwingKid)],
      d.headerBytes.length,
    ]);
  });
});
