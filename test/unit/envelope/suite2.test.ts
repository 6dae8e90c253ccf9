/**
 * Suite 2 (X-Wing slots, docs/SPEC.md §2, §4.1, §5 step 5): round trips through both providers and
 * across them, deterministic sealing byte-identical on both, suites never mixed, every X-Wing failure
 * one BOX_OPEN_FAILED, and the opener's expanded keys held once and destroyed on close.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider, XWingDecapsulationKey } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeOpener,
  kid,
  type RecipientKeyPair,
  XWING_BOX_BYTES,
  XWING_CIPHERTEXT_BYTES,
} from '../../../src/envelope/index.js';
import { codeOf, outcomeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_NAMES, PROVIDER_PAIRS } from './support/providers.js';
import {
  makeWorld,
  SCHEMA_FP,
  SCHEMA_ID,
  SCHEMA_ID_SUITE2,
  TOPIC,
  type World,
} from './support/world.js';

const ctx = { topic: TOPIC, partition: 3, key: Uint8Array.of(9, 9) } as const;

function sealSome(w: World, to: readonly string[], count: number, sign = false): Uint8Array[] {
  const s = w.session('alice', to, { suite: 2, signEveryMessage: sign });
  const out = Array.from(
    { length: count },
    (_, seq) =>
      s.seal({
        ...ctx,
        seq,
        schemaFp: SCHEMA_FP,
        contentType: 'text/plain',
        payload: new TextEncoder().encode(`message ${seq}`),
      }).value,
  );
  s.close();
  return out;
}

/** One suite-1 record from alice to bob (seq 0, an empty content type, `payloadBytes` zero bytes). */
function sealSuite1(w: World, payloadBytes = 1): Uint8Array {
  const s = w.session('alice', ['bob']);
  const v = s.seal({
    ...ctx,
    seq: 0,
    schemaFp: SCHEMA_FP,
    contentType: '',
    payload: new Uint8Array(payloadBytes),
  }).value;
  s.close();
  return v;
}

/** Flips one bit of `v` at `at`. */
function flip(v: Uint8Array, at: number): Uint8Array {
  const m = v.slice();
  m[at]! ^= 0x01;
  return m;
}

describe.each(PROVIDER_NAMES)('suite 2 (%s)', (providerName) => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider(providerName);
    w = makeWorld(p, ['alice', 'bob', 'carol', 'dave', 'erin']);
  });

  it('seals with X-Wing slots of 1,216 bytes and every recipient opens every message', () => {
    const values = sealSome(w, ['bob', 'carol', 'dave'], 3, true);
    const d = decodeEnvelope(values[0]!, w.limits);
    expect(d.header.suite).toBe(2);
    expect(d.header.boxes.map((b) => b.length)).toEqual([
      XWING_BOX_BYTES,
      XWING_BOX_BYTES,
      XWING_BOX_BYTES,
    ]);
    expect(values[0]!.subarray(1, 5)).toEqual(Uint8Array.of(0, 0, 0, SCHEMA_ID_SUITE2));
    for (const name of ['bob', 'carol', 'dave']) {
      const o = w.opener(name);
      const got = values.map((v) => {
        const r = o.open(v, ctx);
        return r.kind === 'delivered' ? new TextDecoder().decode(r.message.payload) : r.kind;
      });
      o.close();
      expect(got).toEqual(['message 0', 'message 1', 'message 2']);
    }
    const erin = w.opener('erin');
    expect(outcomeOf(() => erin.open(values[0]!, ctx))).toBe('not-addressed');
    erin.close();
  });

  it('a suite-2 header only matches suite-2 keys: the same identity holding only its X25519 key is not addressed', () => {
    const [v] = sealSome(w, ['bob'], 1);
    const o = w.opener('bob', { recipientKeys: [w.recipientKey('bob', 1)] });
    expect(outcomeOf(() => o.open(v!, ctx))).toBe('not-addressed');
    o.close();
  });

  it('a suite-1 record is still opened by an opener that also holds suite-2 keys', () => {
    const v = sealSuite1(w, 3);
    expect(decodeEnvelope(v, w.limits).header.suite).toBe(1);
    const o = w.opener('bob');
    expect(outcomeOf(() => o.open(v, ctx))).toBe('success');
    o.close();
  });

  it('never mixes suites: wrong-size keys for the session suite are refused typed', () => {
    const x = (n: string) => ({ kid: w.id(n).xwingKid, publicKey: w.id(n).xwing.publicKey });
    const c = (n: string) => ({ kid: w.id(n).boxKid, publicKey: w.id(n).box.publicKey });
    expect(
      codeOf(() => w.session('alice', [], { suite: 2, recipients: [x('bob'), c('carol')] })),
    ).toBe('ARGUMENT_INVALID');
    expect(codeOf(() => w.session('alice', [], { suite: 1, recipients: [x('bob')] }))).toBe(
      'ARGUMENT_INVALID',
    );
    expect(codeOf(() => w.session('alice', [], { suite: 2, recipients: [c('bob')] }))).toBe(
      'ARGUMENT_INVALID',
    );
    // An X-Wing key under its x25519-style kid (or any other kid) is refused too.
    expect(
      codeOf(() =>
        w.session('alice', [], {
          suite: 2,
          recipients: [{ kid: w.id('bob').boxKid, publicKey: w.id('bob').xwing.publicKey }],
        }),
      ),
    ).toBe('ARGUMENT_INVALID');
    expect(codeOf(() => w.session('alice', ['bob'], { suite: 3 as unknown as 2 }))).toBe(
      'ARGUMENT_INVALID',
    );
  });

  it('a recipient X-Wing key that X-Wing refuses (unreduced ML-KEM coefficients, low-order X25519 part) is refused typed', () => {
    const good = w.id('bob').xwing.publicKey;
    const unreduced = Uint8Array.of(...new Uint8Array(1184).fill(0xff), ...good.subarray(1184));
    const lowOrder = Uint8Array.of(...good.subarray(0, 1184), ...new Uint8Array(32));
    const codes = [unreduced, lowOrder].map((pk) =>
      codeOf(() =>
        w.session('alice', [], {
          suite: 2,
          recipients: [{ kid: kid(p, 'xwing', pk), publicKey: pk }],
        }),
      ),
    );
    expect(codes).toEqual(['CRYPTO_BAD_ARGUMENT', 'CRYPTO_BAD_ARGUMENT']);
  });

  it('refuses opener keys whose sizes do not fit their suite', () => {
    const bad: RecipientKeyPair[] = [
      { ...w.recipientKey('bob', 2), suite: 1 },
      { ...w.recipientKey('bob', 1), suite: 2 },
      { ...w.recipientKey('bob', 2), secretKey: new Uint8Array(64) },
    ];
    for (const k of bad)
      expect(codeOf(() => w.opener('bob', { recipientKeys: [k] }))).toBe('ARGUMENT_INVALID');
  });

  it('every X-Wing failure is HEADER:BOX_OPEN_FAILED (ML-KEM part, X25519 part, wrapped part, low-order X25519)', () => {
    const [v] = sealSome(w, ['bob'], 1);
    const d = decodeEnvelope(v!, w.limits);
    // The box's offset in the record value: the frame, then the header bytes up to the box view.
    const off = 5 + (d.header.boxes[0]!.byteOffset - d.headerBytes.byteOffset);
    const cases = {
      'ML-KEM ciphertext (implicit rejection)': flip(v!, off + 17),
      'X25519 ciphertext': flip(v!, off + XWING_CIPHERTEXT_BYTES + 3),
      'wrapped seed': flip(v!, off + XWING_CIPHERTEXT_BYTES + 32 + 1),
      'AEAD tag of the wrap': flip(v!, off + XWING_BOX_BYTES - 1),
    };
    const lowOrder = v!.slice();
    lowOrder.fill(0, off + 1088, off + XWING_CIPHERTEXT_BYTES);
    const outcomes = Object.fromEntries(
      [...Object.entries(cases), ['all-zero X25519 ciphertext', lowOrder] as const].map(
        ([k, value]) => {
          const o = w.opener('bob');
          const r = outcomeOf(() => o.open(value, ctx));
          o.close();
          return [k, r];
        },
      ),
    );
    expect(outcomes).toEqual({
      'ML-KEM ciphertext (implicit rejection)': 'HEADER:BOX_OPEN_FAILED',
      'X25519 ciphertext': 'HEADER:BOX_OPEN_FAILED',
      'wrapped seed': 'HEADER:BOX_OPEN_FAILED',
      'AEAD tag of the wrap': 'HEADER:BOX_OPEN_FAILED',
      'all-zero X25519 ciphertext': 'HEADER:BOX_OPEN_FAILED',
    });
  });

  it('a slot is bound to its recipient: a box copied into another recipient slot does not open', () => {
    const [v] = sealSome(w, ['bob', 'carol'], 1);
    const d = decodeEnvelope(v!, w.limits);
    const swapped = encodeEnvelope(SCHEMA_ID_SUITE2, {
      ...d,
      header: { ...d.header, boxes: [d.header.boxes[1]!, d.header.boxes[0]!] },
    });
    const results = ['bob', 'carol'].map((n) => {
      const o = w.opener(n);
      const r = outcomeOf(() => o.open(swapped, ctx));
      o.close();
      return r;
    });
    expect(results).toEqual(['HEADER:BOX_OPEN_FAILED', 'HEADER:BOX_OPEN_FAILED']);
  });

  it('the suite is fixed by the schema id: suite byte flipped or record re-framed is MALFORMED:BAD_SUITE', () => {
    const [v] = sealSome(w, ['bob'], 1);
    // Header: version varint at 5, suite varint at 6 (both one byte).
    expect(v![6]).toBe(0x04); // zigzag(2)
    const asSuite1 = v!.slice();
    asSuite1[6] = 0x02;
    const reframed = v!.slice();
    reframed[4] = SCHEMA_ID;
    const o = w.opener('bob');
    expect(outcomeOf(() => o.open(asSuite1, ctx))).toBe('MALFORMED:BAD_SUITE');
    expect(outcomeOf(() => o.open(reframed, ctx))).toBe('MALFORMED:BAD_SUITE');
    const suite3 = v!.slice();
    suite3[6] = 0x06;
    expect(outcomeOf(() => o.open(suite3, ctx))).toBe('MALFORMED:BAD_SUITE');
    o.close();
    // A suite-1 record under the suite-2 schema id.
    const one = sealSuite1(w);
    const one2 = one.slice();
    one2[4] = SCHEMA_ID_SUITE2;
    const o2 = w.opener('bob');
    expect(outcomeOf(() => o2.open(one2, ctx))).toBe('MALFORMED:BAD_SUITE');
    o2.close();
  });

  it('a topic policy that requires suite 2 refuses a suite-1 record before any cryptography (CONTEXT:SUITE_NOT_ALLOWED)', () => {
    const [two] = sealSome(w, ['bob'], 1);
    const one = sealSuite1(w);
    const asked: string[] = [];
    const o = new EnvelopeOpener({
      provider: p,
      clock: w.clock,
      resolver: w.resolver,
      policy: w.policy,
      limits: w.limits,
      recipientKeys: [w.recipientKey('bob', 1), w.recipientKey('bob', 2)],
      acceptsSuite: (topic, suite) => {
        asked.push(`${topic}:${suite}`);
        return suite === 2;
      },
    });
    const r = o.open(two!, ctx);
    expect(r.kind === 'delivered' ? r.message.suite : r.kind).toBe(2);
    expect(outcomeOf(() => o.open(one, ctx))).toBe('CONTEXT:SUITE_NOT_ALLOWED');
    expect(asked).toEqual([`${TOPIC}:2`, `${TOPIC}:1`]);
    o.close();
  });

  it('a header the decoder just accepted, re-framed with the other suite schema id, is still BAD_SUITE (header-reuse path)', () => {
    const [v] = sealSome(w, ['bob'], 1);
    const reframed = v!.slice();
    reframed[4] = SCHEMA_ID;
    const o = w.opener('bob');
    expect(outcomeOf(() => o.open(v!, ctx))).toBe('success');
    expect(outcomeOf(() => o.open(reframed, ctx))).toBe('MALFORMED:BAD_SUITE');
    o.close();
  });

  it('an opener not configured for suite 2 refuses its records as MALFORMED:WRONG_SCHEMA_ID', () => {
    const [v] = sealSome(w, ['bob'], 1);
    const o = new EnvelopeOpener({
      provider: p,
      clock: w.clock,
      resolver: w.resolver,
      policy: w.policy,
      limits: { envelopeSchemaId: SCHEMA_ID, namespace: w.namespace, maxCiphertextBytes: 1 << 20 },
      recipientKeys: [w.recipientKey('bob', 2)],
    });
    expect(outcomeOf(() => o.open(v!, ctx))).toBe('MALFORMED:WRONG_SCHEMA_ID');
    o.close();
  });

  it('expands each X-Wing key once, keeps it in memory across sessions and destroys it on close and key change', () => {
    const made: { destroyed: boolean }[] = [];
    const expandCounting = (seed: Uint8Array): XWingDecapsulationKey => {
      const dk = p.xwingDecapsulationKey(seed);
      const entry = { destroyed: false };
      made.push(entry);
      return {
        publicKey: dk.publicKey,
        decapsulate: (ct) => dk.decapsulate(ct),
        destroy: () => {
          entry.destroyed = true;
          dk.destroy();
        },
      };
    };
    // The real provider with one method observed (its methods use private fields: bind them).
    const counting = new Proxy(p, {
      get(target, prop, receiver) {
        if (prop === 'xwingDecapsulationKey') return expandCounting;
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const a = sealSome(w, ['bob'], 1)[0]!;
    const b = sealSome(w, ['bob'], 1)[0]!;
    const o = new EnvelopeOpener({
      provider: counting,
      clock: w.clock,
      resolver: w.resolver,
      policy: w.policy,
      limits: w.limits,
      recipientKeys: [w.recipientKey('bob', 2)],
    });
    // Expanded once, when the keys are given, and reused by every header.
    expect(made).toEqual([{ destroyed: false }]);
    expect([outcomeOf(() => o.open(a, ctx)), outcomeOf(() => o.open(b, ctx))]).toEqual([
      'success',
      'success',
    ]);
    expect(made).toEqual([{ destroyed: false }]);
    o.setRecipientKeys([w.recipientKey('bob', 2)]);
    expect(made).toEqual([{ destroyed: true }, { destroyed: false }]);
    expect(outcomeOf(() => o.open(sealSome(w, ['bob'], 1)[0]!, ctx))).toBe('success');
    o.close();
    expect(made).toEqual([{ destroyed: true }, { destroyed: true }]);
  });

  it("refuses a suite-2 key pair whose public key is not its seed's, when the keys are given", () => {
    const mismatched = { ...w.recipientKey('bob', 2), publicKey: w.id('carol').xwing.publicKey };
    expect(codeOf(() => w.opener('bob', { recipientKeys: [mismatched] }))).toBe('ARGUMENT_INVALID');
    const o = w.opener('bob');
    expect(codeOf(() => o.setRecipientKeys([w.recipientKey('bob', 1), mismatched]))).toBe(
      'ARGUMENT_INVALID',
    );
    // The opener keeps its previous keys.
    expect(outcomeOf(() => o.open(sealSome(w, ['bob'], 1)[0]!, ctx))).toBe('success');
    o.close();
  });
});

describe('suite 2 across providers', () => {
  it.each(PROVIDER_PAIRS)(
    'sealed with %s, opened with %s (signed, keyed, 3 recipients)',
    async (from, to) => {
      const sealer = await loadProvider(from);
      const opener = await loadProvider(to);
      const w = makeWorld(sealer, ['alice', 'bob', 'carol', 'dave']);
      const values = sealSome(w, ['bob', 'carol', 'dave'], 3, true);
      const o = new EnvelopeOpener({
        provider: opener,
        clock: w.clock,
        resolver: w.resolver,
        policy: w.policy,
        limits: w.limits,
        recipientKeys: [w.recipientKey('carol', 2)],
      });
      expect(values.map((v) => outcomeOf(() => o.open(v, ctx)))).toEqual([
        'success',
        'success',
        'success',
      ]);
      o.close();
    },
  );

  it('deterministic sealing (tests only) gives the same bytes on both providers', async () => {
    const native = await loadProvider('sodium-native');
    const wasm = await loadProvider('libsodium-wrappers');
    const w = makeWorld(native, ['alice', 'bob', 'carol']);
    const counterSource = (label: string) => {
      let i = 0;
      return (out: Uint8Array) => {
        for (let k = 0; k < out.length; k++) out[k] = (i * 31 + k + label.length) & 0xff;
        i++;
      };
    };
    const sealWith = (p: CryptoProvider) => {
      const s = w.session('alice', ['bob', 'carol'], {
        suite: 2,
        provider: p,
        streamId: new Uint8Array(16).fill(5),
        random: counterSource('random'),
        xwingEncapsulationSeed: counterSource('eseed'),
      });
      const v = s.seal({
        ...ctx,
        seq: 7,
        schemaFp: SCHEMA_FP,
        contentType: 'x',
        payload: new Uint8Array(40),
      }).value;
      s.close();
      return Buffer.from(v).toString('hex');
    };
    const a = sealWith(native);
    expect(a).toBe(sealWith(wasm));
    expect(a).toBe(sealWith(native));
  });
});
