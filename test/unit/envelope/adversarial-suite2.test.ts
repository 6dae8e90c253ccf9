/**
 * Adversarial inputs against suite 2 (X-Wing slots, docs/SPEC.md §2.2): every bit flip lands in the
 * class of its field (every X-Wing ciphertext bit → BOX_OPEN_FAILED), slots cannot be moved between
 * sessions or recipients, a co-recipient cannot downgrade a session to suite 1, mixed-suite headers
 * never open with a key of the other suite, and a sender cannot split the seed unnoticed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  type DecodedEnvelope,
  encodeEnvelope,
  type EnvelopeFields,
  type SessionHeaderFields,
  XWING_BOX_BYTES,
  XWING_CIPHERTEXT_BYTES,
  xwingSlotKey,
} from '../../../src/envelope/index.js';
import { openXWingBox, readPrivate, resignHeader } from './support/forge.js';
import { outcomeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import {
  makeWorld,
  SCHEMA_FP,
  SCHEMA_ID,
  SCHEMA_ID_SUITE2,
  TOPIC,
  type World,
} from './support/world.js';

const ctx0 = { topic: TOPIC, partition: 0, key: null } as const;
const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

describe.each(PROVIDER_NAMES)('adversarial inputs, suite 2 (%s)', (providerName) => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider(providerName);
    w = makeWorld(p, ['alice', 'bob', 'carol']);
  });

  const seal = (to: string[], suite: 1 | 2 = 2) => {
    const s = w.session('alice', to, { suite });
    const v = s.seal({
      ...ctx0,
      seq: 1,
      schemaFp: SCHEMA_FP,
      contentType: 'c',
      payload: Uint8Array.of(1, 2, 3),
    }).value;
    s.close();
    return v;
  };
  const openAs = (name: string, value: Uint8Array) => {
    const o = w.opener(name);
    const r = outcomeOf(() => o.open(value, ctx0));
    o.close();
    return r;
  };
  const reencode = (
    env: DecodedEnvelope,
    header: SessionHeaderFields,
    schemaId = SCHEMA_ID_SUITE2,
    rest: Partial<EnvelopeFields> = {},
  ) =>
    encodeEnvelope(schemaId, {
      header,
      seq: env.seq,
      nonce: env.nonce,
      ct: env.ct,
      tags: env.tags,
      ...rest,
    });
  const slotOf = (env: DecodedEnvelope, kid: Uint8Array) =>
    env.header.kids.findIndex((k) => same(k, kid));

  it('bit flips of a one-recipient suite-2 envelope (every bit outside the box, one per box byte) are rejected with the class of the field they hit', () => {
    const value = seal(['bob']);
    const env = decodeEnvelope(value, w.limits);
    const h = 5;
    const topicLenAt = h + 2 + 32;
    const slotsAt = topicLenAt + 1 + TOPIC.length;
    const kidAt = slotsAt + 1;
    const boxAt = kidAt + 16;
    const wrappedAt = boxAt + XWING_CIPHERTEXT_BYTES;
    const commitAt = boxAt + XWING_BOX_BYTES + 1;
    const privAt = commitAt + 32;
    const seqAt = h + env.headerBytes.length;
    const ctAt = seqAt + 1 + 24 + 2;
    const tagsAt = ctAt + env.ct.length;
    expect(privAt + 117).toBe(seqAt);
    expect(tagsAt + 1 + 16 + 1).toBe(value.length);
    const expectedFor = (i: number): RegExp => {
      if (i < h + 2) return /^MALFORMED:/; // frame, version, suite (BAD_SUITE)
      if (i < h + 18) return /^HEADER:BOX_OPEN_FAILED$/; // sessionId: inside every wrap key
      if (i < h + 34) return /^MALFORMED:WRONG_NAMESPACE$/;
      if (i < slotsAt) return /^(MALFORMED:|CONTEXT:TOPIC_MISMATCH$)/;
      if (i < kidAt) return /^MALFORMED:/;
      if (i < boxAt) return /^not-addressed$/;
      if (i < wrappedAt) return /^HEADER:BOX_OPEN_FAILED$/; // X-Wing ciphertext (ML-KEM and X25519)
      if (i < commitAt - 1) return /^HEADER:BOX_OPEN_FAILED$/; // wrapped seed ‖ macKey ‖ senderKid
      if (i < commitAt) return /^MALFORMED:/;
      if (i < privAt) return /^HEADER:COMMITMENT_MISMATCH$/;
      if (i < seqAt) return /^HEADER:PRIVATE_OPEN_FAILED$/;
      if (i < seqAt + 1) return /^(MALFORMED:|MESSAGE:BAD_TAG$)/;
      if (i < ctAt - 2) return /^MESSAGE:BAD_TAG$/;
      if (i < ctAt) return /^MALFORMED:/;
      if (i < tagsAt) return /^MESSAGE:BAD_TAG$/;
      if (i === tagsAt) return /^MALFORMED:/;
      if (i < tagsAt + 17) return /^MESSAGE:BAD_TAG$/;
      return /^MALFORMED:/;
    };
    const bob = w.opener('bob');
    const wrong: string[] = [];
    let boxFlips = 0;
    for (let i = 0; i < value.length; i++) {
      // Inside the 1,216-byte box one bit per byte (cycling through the 8 positions) keeps this fast:
      // each flip there costs an X-Wing decapsulation.
      const inBox = i >= boxAt && i < commitAt - 1;
      for (let bit = inBox ? i % 8 : 0; bit < (inBox ? (i % 8) + 1 : 8); bit++) {
        const m = value.slice();
        m[i]! ^= 1 << bit;
        const outcome = outcomeOf(() => bob.open(m, ctx0));
        if (!expectedFor(i).test(outcome)) wrong.push(`${i}/${bit}: ${outcome}`);
        if (i >= boxAt && i < wrappedAt) boxFlips++;
      }
    }
    expect(wrong).toEqual([]);
    expect(boxFlips).toBe(XWING_CIPHERTEXT_BYTES);
    expect(outcomeOf(() => bob.open(value, ctx0))).toBe('success');
    bob.close();
  });

  it('a slot moved to another session, or to another recipient of the same session, does not open', () => {
    const a = decodeEnvelope(seal(['bob', 'carol']), w.limits);
    const b = decodeEnvelope(seal(['bob', 'carol']), w.limits);
    const bobSlot = slotOf(b, w.id('bob').xwingKid);
    const boxes = [...b.header.boxes];
    boxes[bobSlot] = a.header.boxes[slotOf(a, w.id('bob').xwingKid)]!;
    expect(openAs('bob', reencode(b, { ...b.header, boxes }))).toBe('HEADER:BOX_OPEN_FAILED');
    const swapped = [b.header.boxes[1]!, b.header.boxes[0]!];
    const m = reencode(b, { ...b.header, boxes: swapped });
    expect([openAs('bob', m), openAs('carol', m)]).toEqual([
      'HEADER:BOX_OPEN_FAILED',
      'HEADER:BOX_OPEN_FAILED',
    ]);
  });

  it('a co-recipient cannot downgrade a suite-2 session to suite 1 (the suite and slots are signed)', () => {
    const env = decodeEnvelope(seal(['bob', 'carol']), w.limits);
    const carol = w.id('carol');
    const bob = w.id('bob');
    const alice = w.id('alice');
    // Carol opens her slot, learns the seed and alice's signature, and rebuilds the header as suite 1
    // with a classical sealed box to bob's X25519 key carrying the same seed and alice's kid.
    const box = openXWingBox(p, env.header, slotOf(env, carol.xwingKid), carol.xwing.secretKey);
    const { priv, sig } = readPrivate(p, env.header, box.seed);
    const classical = p.boxSeal(
      Uint8Array.of(...box.seed, ...p.randomBytes(32), ...alice.signKid),
      bob.box.publicKey,
    );
    const downgraded = resignHeader(
      p,
      { ...env.header, suite: 1, kids: [bob.boxKid], boxes: [classical] },
      {
        seed: box.seed,
        senderKid: alice.signKid,
        signSecretKey: carol.sign.secretKey,
        priv,
        signature: sig,
      },
    );
    const m = reencode(env, downgraded.header, SCHEMA_ID, { tags: [env.tags[0]!] });
    expect(openAs('bob', m)).toBe('HEADER:BAD_HEADER_SIGNATURE');
    // Without re-encrypting the private part the downgrade fails even earlier.
    const lazy = reencode(
      env,
      { ...env.header, suite: 1, kids: [bob.boxKid], boxes: [classical] },
      SCHEMA_ID,
      {
        tags: [env.tags[0]!],
      },
    );
    expect(openAs('bob', lazy)).toBe('HEADER:PRIVATE_OPEN_FAILED');
  });

  it('mixed-suite headers: a slot for a key of the other suite is never opened with it', () => {
    const bob = w.id('bob');
    // Suite-2 header whose only slot names bob's X25519 kid and holds a sealed box (padded to size).
    const two = decodeEnvelope(seal(['bob']), w.limits);
    const sealedBox = p.boxSeal(new Uint8Array(80), bob.box.publicKey);
    const padded = Uint8Array.of(
      ...sealedBox,
      ...new Uint8Array(XWING_BOX_BYTES - sealedBox.length),
    );
    const mixed2 = reencode(two, { ...two.header, kids: [bob.boxKid], boxes: [padded] });
    expect(openAs('bob', mixed2)).toBe('not-addressed');
    // Suite-1 header whose only slot names bob's X-Wing kid (a 128-byte box).
    const one = decodeEnvelope(seal(['bob'], 1), w.limits);
    const mixed1 = reencode(one, { ...one.header, kids: [bob.xwingKid] }, SCHEMA_ID);
    expect(openAs('bob', mixed1)).toBe('not-addressed');
    // A suite-2 header with a 128-byte slot, or a suite-1 header with a 1,216-byte one: MALFORMED.
    const short = reencode(two, {
      ...two.header,
      boxes: [two.header.boxes[0]!.subarray(0, 128)],
    });
    expect(openAs('bob', short)).toMatch(/^MALFORMED:/);
    const long = reencode(one, { ...one.header, boxes: [padded] }, SCHEMA_ID);
    expect(openAs('bob', long)).toMatch(/^MALFORMED:/);
  });

  it('a sender wrapping a different seed for one recipient: COMMITMENT_MISMATCH for that recipient only', () => {
    const env = decodeEnvelope(seal(['bob', 'carol']), w.limits);
    const alice = w.id('alice');
    const bob = w.id('bob');
    const carol = w.id('carol');
    const bobSlot = slotOf(env, bob.xwingKid);
    const carolBox = openXWingBox(p, env.header, 1 - bobSlot, carol.xwing.secretKey);
    const { priv } = readPrivate(p, env.header, carolBox.seed);
    const enc = p.xwingEncapsulate(bob.xwing.publicKey);
    const wrapKey = xwingSlotKey(p, enc.sharedSecret, 2, env.header.sessionId, bob.xwingKid);
    const wrapped = new Uint8Array(96);
    p.aeadEncrypt(
      wrapped,
      Uint8Array.of(...p.randomBytes(32), ...p.randomBytes(32), ...alice.signKid),
      null,
      new Uint8Array(24),
      wrapKey,
    );
    const boxes = [...env.header.boxes];
    boxes[bobSlot] = Uint8Array.of(...enc.ciphertext, ...wrapped);
    const resigned = resignHeader(
      p,
      { ...env.header, boxes },
      { seed: carolBox.seed, senderKid: alice.signKid, signSecretKey: alice.sign.secretKey, priv },
    );
    const m = reencode(env, resigned.header);
    expect(openAs('bob', m)).toBe('HEADER:COMMITMENT_MISMATCH');
    expect(openAs('carol', m)).toBe('MESSAGE:BAD_TAG');
  });
});
