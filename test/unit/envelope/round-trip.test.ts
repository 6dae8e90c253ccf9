import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  EnvelopeError,
  type OpenResult,
  padmeLength,
  schemaFingerprint,
  SequenceCounter,
} from '../../../src/envelope/index.js';
import { codeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

function delivered(r: OpenResult) {
  if (r.kind !== 'delivered') throw new Error(`expected delivered, got ${r.kind}`);
  return r.message;
}

describe.each(PROVIDER_NAMES)('envelope round trips (%s)', (providerName) => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider(providerName);
    w = makeWorld(p, [
      'alice',
      'bob',
      'carol',
      'dave',
      ...Array.from({ length: 14 }, (_, i) => `svc${i}`),
    ]);
  });

  it('one recipient, many messages in one session, record key and null key', () => {
    const s = w.session('alice', ['bob']);
    const bob = w.opener('bob');
    const seqs = new SequenceCounter(s.streamId);
    for (let i = 0; i < 20; i++) {
      const payload = p.randomBytes(i * 37);
      const key = i % 2 === 0 ? null : new TextEncoder().encode(`k${i}`);
      const sealed = s.seal({
        partition: 3,
        seq: seqs.next(3),
        key,
        schemaFp: SCHEMA_FP,
        contentType: 'application/vnd.test',
        payload,
        entityVersion: i,
      });
      const m = delivered(bob.open(sealed.value, { topic: TOPIC, partition: 3, key }));
      expect(Buffer.from(m.payload).equals(Buffer.from(payload))).toBe(true);
      expect(m.senderIdentity).toBe('alice');
      expect(Buffer.from(m.senderKid).equals(Buffer.from(w.id('alice').signKid))).toBe(true);
      expect(m.seq).toBe(i);
      expect(m.entityVersion).toBe(i);
      expect(m.contentType).toBe('application/vnd.test');
      expect(Buffer.from(m.messageId).equals(Buffer.from(sealed.messageId))).toBe(true);
      expect(m.createdAtMs).toBe(sealed.createdAtMs);
      expect(Buffer.from(m.schemaFp).equals(Buffer.from(SCHEMA_FP))).toBe(true);
    }
    expect(bob.cache.size.sessions).toBe(1);
    s.close();
    bob.close();
  });

  it('opened messages stay intact while later ones are opened (bodies never share bytes)', () => {
    const s = w.session('alice', ['bob']);
    const bob = w.opener('bob');
    const seqs = new SequenceCounter(s.streamId);
    const kept: { payload: Uint8Array; messageId: Uint8Array; expected: Uint8Array }[] = [];
    // Enough small bodies to fill several 64 KiB slabs, and some over the slab's 8 KiB cut-off.
    for (let i = 0; i < 400; i++) {
      const payload = p.randomBytes(i % 50 === 0 ? 9000 + i : 700 + (i % 13));
      const sealed = s.seal({
        partition: 0,
        seq: seqs.next(0),
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'application/vnd.test',
        payload,
      });
      const m = delivered(bob.open(sealed.value, { topic: TOPIC, partition: 0, key: null }));
      kept.push({ payload: m.payload, messageId: m.messageId, expected: payload });
      expect(Buffer.from(m.messageId).equals(Buffer.from(sealed.messageId))).toBe(true);
    }
    for (const k of kept) expect(Buffer.from(k.payload).equals(Buffer.from(k.expected))).toBe(true);
    s.close();
    bob.close();
  });

  it('N recipients: each opens, a non-recipient is NOT_ADDRESSED', () => {
    const to = ['bob', 'carol', 'dave'];
    const s = w.session('alice', to);
    const sealed = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array([1, 2, 3]),
    });
    for (const name of to) {
      const m = delivered(
        w.opener(name).open(sealed.value, { topic: TOPIC, partition: 0, key: null }),
      );
      expect([...m.payload]).toEqual([1, 2, 3]);
    }
    const env = decodeEnvelope(sealed.value, w.limits);
    expect(w.opener('alice').open(sealed.value, { topic: TOPIC, partition: 0, key: null })).toEqual(
      {
        kind: 'not-addressed',
        slotKids: env.header.kids.map((k) => Buffer.from(k).toString('hex')),
      },
    );
    expect(env.header.kids.length).toBe(3);
    // Slots are sorted by kid.
    const sorted = [...env.header.kids].map((k) => Buffer.from(k).toString('hex'));
    expect(sorted).toEqual([...sorted].sort());
    s.close();
  });

  it('16 recipients (the cap)', () => {
    const to = ['bob', 'carol', ...Array.from({ length: 14 }, (_, i) => `svc${i}`)];
    const s = w.session('alice', to);
    const sealed = s.seal({
      partition: 1,
      seq: 5,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'x',
      payload: new Uint8Array(100),
    });
    for (const name of [to[0]!, to[15]!]) {
      expect(
        delivered(w.opener(name).open(sealed.value, { topic: TOPIC, partition: 1, key: null }))
          .payload.length,
      ).toBe(100);
    }
    expect(() => w.session('alice', [...to, 'dave'])).toThrow(/recipients/);
    s.close();
  });

  it('one-message sessions, signed, stay out of the cache; the session is exhausted after one', () => {
    const bob = w.opener('bob');
    for (let i = 0; i < 5; i++) {
      const s = w.session('alice', ['bob', 'carol'], { maxMessages: 1, signEveryMessage: true });
      const sealed = s.seal({
        partition: 0,
        seq: i,
        key: new Uint8Array([9]),
        schemaFp: SCHEMA_FP,
        contentType: 'a',
        payload: new Uint8Array([i]),
      });
      expect(
        codeOf(() =>
          s.seal({
            partition: 0,
            seq: i + 1,
            key: null,
            schemaFp: SCHEMA_FP,
            contentType: 'a',
            payload: new Uint8Array(0),
          }),
        ),
      ).toBe('SESSION_EXHAUSTED');
      expect([
        ...delivered(
          bob.open(sealed.value, { topic: TOPIC, partition: 0, key: new Uint8Array([9]) }),
        ).payload,
      ]).toEqual([i]);
      s.close();
    }
    expect(bob.cache.size.sessions).toBe(0);
  });

  it('payload sizes 0 B .. 1 MiB, signed and unsigned, each padding policy', () => {
    const sizes = [0, 1, 2, 55, 1023, 1024, 1025, 4096, 65_537, 1024 * 1024];
    const bob = w.opener('bob');
    for (const sign of [false, true]) {
      for (const padding of [
        { kind: 'padme' as const },
        { kind: 'block' as const, blockBytes: 256 },
        { kind: 'none' as const },
      ]) {
        const s = w.session('alice', ['bob'], { signEveryMessage: sign, padding });
        let seq = 0;
        for (const size of sizes) {
          const payload = p.randomBytes(size);
          const sealed = s.seal({
            partition: 2,
            seq: seq++,
            key: null,
            schemaFp: SCHEMA_FP,
            contentType: 'avro',
            payload,
          });
          const env = decodeEnvelope(sealed.value, w.limits);
          const plainLen = 55 + 4 + size + (sign ? 64 : 0);
          const expected =
            padding.kind === 'padme'
              ? padmeLength(plainLen + 1)
              : padding.kind === 'block'
                ? Math.ceil((plainLen + 1) / 256) * 256
                : plainLen + 1;
          expect(env.ct.length).toBe(expected + 16);
          const m = delivered(bob.open(sealed.value, { topic: TOPIC, partition: 2, key: null }));
          expect(Buffer.compare(m.payload, payload)).toBe(0);
        }
        s.close();
      }
    }
  });

  it('sealing refuses misuse with EnvelopeUsageError, and an expired session', () => {
    const s = w.session('alice', ['bob'], { lifetimeMs: 1000 });
    const base = {
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(0),
    };
    expect(codeOf(() => s.seal({ ...base, seq: -1 }))).toBe('ARGUMENT_INVALID');
    expect(codeOf(() => s.seal({ ...base, seq: 2 ** 53 }))).toBe('ARGUMENT_INVALID');
    expect(codeOf(() => s.seal({ ...base, schemaFp: new Uint8Array(15) }))).toBe(
      'ARGUMENT_INVALID',
    );
    expect(codeOf(() => s.seal({ ...base, messageId: new Uint8Array(3) }))).toBe(
      'ARGUMENT_INVALID',
    );
    w.clock.advance(1000);
    expect(codeOf(() => s.seal(base))).toBe('SESSION_EXPIRED');
    w.clock.advance(-1000);
    s.close();
    expect(codeOf(() => s.seal(base))).toBe('SESSION_CLOSED');
    expect(() => w.session('alice', ['bob', 'bob'])).toThrow(/duplicate/);
    expect(() =>
      w.session('alice', [], {
        recipients: [{ kid: w.id('carol').boxKid, publicKey: w.id('bob').box.publicKey }],
      }),
    ).toThrow(/kid does not match/);
  });

  it('close() zeros the session keys: a closed opened session refuses to open', () => {
    const s = w.session('alice', ['bob']);
    const sealed = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(1),
    });
    const bob = w.opener('bob');
    delivered(bob.open(sealed.value, { topic: TOPIC, partition: 0, key: null }));
    bob.close(); // closes cached sessions; the next open re-opens the header
    expect(bob.cache.size.sessions).toBe(0);
    delivered(bob.open(sealed.value, { topic: TOPIC, partition: 0, key: null }));
    s.close();
  });

  it('schemaFingerprint is H16(L(schema) ‖ text) and differs per text', () => {
    const a = schemaFingerprint(
      p,
      '{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}',
    );
    const b = schemaFingerprint(
      p,
      '{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}',
    );
    expect(a.length).toBe(16);
    expect(Buffer.compare(a, b)).not.toBe(0);
  });

  it('errors carry a coarse class and a code, never payload bytes', () => {
    const s = w.session('alice', ['bob']);
    const secret = new TextEncoder().encode('TOP-SECRET-PAYLOAD');
    const sealed = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: secret,
    });
    try {
      w.opener('bob').open(sealed.value, { topic: TOPIC, partition: 1, key: null });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EnvelopeError);
      const e = err as EnvelopeError;
      expect([e.coarse, e.code]).toEqual(['MESSAGE', 'BAD_TAG']);
      expect(e.message).not.toContain('TOP-SECRET');
    }
    s.close();
  });
});
