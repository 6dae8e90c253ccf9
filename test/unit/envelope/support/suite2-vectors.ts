/**
 * The suite-2 (X-Wing) envelope vectors of test/vectors/xwing-*.vector, built from fixed keys, a named
 * deterministic random source and deterministic X-Wing encapsulation (SealingSessionOptions
 * .xwingEncapsulationSeed, tests only): unlike suite 1, whose sealed boxes take their ephemeral keys
 * from libsodium, every byte is reproducible. scripts/make-vectors.ts writes them;
 * test/unit/envelope/suite2-vectors.test.ts rebuilds them through both providers and requires the
 * committed bytes.
 */
import type { CryptoProvider, KeyPair } from '../../../../src/crypto/provider.js';
import {
  createSealingSession,
  type DecodedEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  type EnvelopeFields,
  kid,
  type PaddingPolicy,
} from '../../../../src/envelope/index.js';
import { ManualClock } from '../../../../src/runtime/clock.js';
import { openXWingBox, readPrivate, resignHeader } from './forge.js';
import type { EnvelopeVector } from './vector-file.js';
import { flipBit, text, vectorInputs } from './vector-inputs.js';

/** The suite-1 schema id the suite-1 vectors pin (docs/SPEC.md §9). */
export const SUITE1_SCHEMA_ID = 7;
/** The suite-2 schema id these vectors pin (schemas/envelope-xwing.avsc). */
export const SUITE2_SCHEMA_ID = 17;
const TOPIC = 'orders.v1';
const CREATED_MS = 1_750_000_000_000;
const NOW_MS = CREATED_MS + 60_000;
const MLKEM_CT = 1088;
const XWING_CT = 1120;

interface Party {
  readonly name: string;
  readonly xwing: KeyPair;
  readonly xwingKid: Uint8Array;
  readonly sign: KeyPair;
}

interface SealSpec {
  readonly to?: readonly Party[];
  readonly sign?: boolean;
  readonly padding?: PaddingPolicy;
  readonly partition?: number;
  readonly seq?: number;
  readonly key?: Uint8Array | null;
}

/** Builds every suite-2 vector with provider `p` (same bytes on both providers). */
export function buildSuite2Vectors(p: CryptoProvider): EnvelopeVector[] {
  const { h32, deterministic, signKeyPair, namespace } = vectorInputs(p);
  const party = (name: string): Party => {
    const xwing = p.xwingKeyPairFromSeed(h32(`sealpost vector x-wing seed ${name}`));
    return {
      name,
      xwing,
      xwingKid: kid(p, 'xwing', xwing.publicKey),
      // The same signing keys as the suite-1 vectors (scripts/make-vectors.ts).
      sign: signKeyPair(name),
    };
  };
  const alice = party('alice');
  const bob = party('bob');
  const carol = party('carol');
  const dave = party('dave');

  const sealOne = (label: string, spec: SealSpec = {}): Uint8Array => {
    const random = deterministic(label);
    const streamId = new Uint8Array(16);
    random(streamId);
    const s = createSealingSession({
      provider: p,
      clock: new ManualClock(CREATED_MS),
      suite: 2,
      envelopeSchemaId: SUITE2_SCHEMA_ID,
      namespace,
      topic: TOPIC,
      senderSigningSecretKey: alice.sign.secretKey,
      recipients: (spec.to ?? [bob]).map((r) => ({
        kid: r.xwingKid,
        publicKey: r.xwing.publicKey,
      })),
      streamId,
      lifetimeMs: 3_600_000,
      maxMessages: 100,
      signEveryMessage: spec.sign ?? false,
      padding: spec.padding ?? { kind: 'padme' },
      random,
      xwingEncapsulationSeed: deterministic(`${label}/x-wing eseed`),
    });
    const value = s.seal({
      partition: spec.partition ?? 0,
      seq: spec.seq ?? 0,
      key: spec.key ?? null,
      schemaFp: new Uint8Array(16).fill(0x5f),
      contentType: 'application/vnd.sealpost.example+avro',
      payload: text('hello, post-quantum sealpost'),
    }).value;
    s.close();
    return value;
  };

  const vectors: EnvelopeVector[] = [];
  const add = (
    name: string,
    expect: string,
    comment: string,
    envelope: Uint8Array,
    o: Partial<EnvelopeVector> & { recipient?: Party; suite2Unpinned?: boolean } = {},
  ) => {
    const { recipient = bob, suite2Unpinned = false, ...rest } = o;
    vectors.push({
      name,
      expect,
      comment,
      schemaId: SUITE1_SCHEMA_ID,
      ...(suite2Unpinned ? {} : { suite2SchemaId: SUITE2_SCHEMA_ID }),
      suite: 2,
      namespace,
      topic: TOPIC,
      partition: 0,
      key: null,
      nowMs: NOW_MS,
      recipientPublicKey: recipient.xwing.publicKey,
      recipientSecretKey: recipient.xwing.secretKey,
      sender: 'alice',
      senderSigningPublicKey: alice.sign.publicKey,
      senderStatus: 'active',
      payload: expect === 'success' ? text('hello, post-quantum sealpost') : null,
      contentType: expect === 'success' ? 'application/vnd.sealpost.example+avro' : null,
      envelope,
      ...rest,
    });
  };
  const limits = {
    envelopeSchemaId: SUITE1_SCHEMA_ID,
    suite2EnvelopeSchemaId: SUITE2_SCHEMA_ID,
    namespace,
    maxCiphertextBytes: 1 << 20,
  };
  const fields = (v: Uint8Array): DecodedEnvelope => decodeEnvelope(v, limits);
  const reencode = (
    v: Uint8Array,
    change: (f: EnvelopeFields) => EnvelopeFields,
    id = SUITE2_SCHEMA_ID,
  ) => encodeEnvelope(id, change(fields(v)));
  const flip = flipBit;
  /** The MALFORMED code a shifted layout trips first (depends on the bytes; the class must hold). */
  const malformedCode = (v: Uint8Array, what: string): string => {
    try {
      decodeEnvelope(v, limits);
    } catch (err) {
      if (err instanceof EnvelopeError && err.coarse === 'MALFORMED') return err.code;
    }
    throw new Error(`${what} must be MALFORMED`);
  };

  // --- golden ---
  const basic = sealOne('xwing-basic');
  add('xwing-golden-basic', 'success', 'suite 2: one recipient, unsigned, padmé, null key', basic);
  const three = sealOne('xwing-signed3', { to: [bob, carol, dave], sign: true });
  add(
    'xwing-golden-signed-three-recipients',
    'success',
    'suite 2: three recipients, signEveryMessage, opened by carol',
    three,
    { recipient: carol },
  );
  add(
    'xwing-golden-record-key',
    'success',
    'suite 2: record key "order-17", partition 5, seq 1000',
    sealOne('xwing-keyed', { key: text('order-17'), partition: 5, seq: 1000 }),
    { key: text('order-17'), partition: 5 },
  );
  add('xwing-not-addressed', 'not-addressed', 'suite 2: dave is not a recipient', basic, {
    recipient: dave,
  });

  // --- MALFORMED: the suite is the schema id's, and a suite-2 slot has exactly 1,216 bytes ---
  add(
    'xwing-suite-byte-1',
    'MALFORMED:BAD_SUITE',
    'suite varint 2 → 1 under the suite-2 schema id',
    reencode(basic, (f) => ({ ...f, header: { ...f.header, suite: 1 } })),
  );
  add(
    'xwing-suite-3',
    'MALFORMED:BAD_SUITE',
    'suite 3 under the suite-2 schema id',
    reencode(basic, (f) => ({ ...f, header: { ...f.header, suite: 3 } })),
  );
  add(
    'xwing-framed-as-suite-1',
    'MALFORMED:BAD_SUITE',
    'the suite-2 record framed with the suite-1 schema id',
    reencode(basic, (f) => f, SUITE1_SCHEMA_ID),
  );
  add(
    'xwing-suite2-id-not-pinned',
    'MALFORMED:WRONG_SCHEMA_ID',
    'the opener pins no suite-2 schema id',
    basic,
    { suite2Unpinned: true },
  );
  {
    const short = reencode(basic, (f) => ({
      ...f,
      header: { ...f.header, boxes: [f.header.boxes[0]!.subarray(0, 128)] },
    }));
    add(
      'xwing-slot-128-bytes',
      `MALFORMED:${malformedCode(short, 'a 128-byte suite-2 slot')}`,
      'a suite-1-sized (128-byte) box in a suite-2 slot: every later field shifts',
      short,
    );
    const long = reencode(basic, (f) => ({
      ...f,
      header: {
        ...f.header,
        boxes: [Uint8Array.of(...f.header.boxes[0]!, ...new Uint8Array(16))],
      },
    }));
    add(
      'xwing-slot-1232-bytes',
      `MALFORMED:${malformedCode(long, 'a 1,232-byte suite-2 slot')}`,
      'a 1,232-byte box in a suite-2 slot: every later field shifts',
      long,
    );
  }

  // --- HEADER: every X-Wing failure is BOX_OPEN_FAILED ---
  const f = fields(basic);
  const boxAt = 5 + (f.header.boxes[0]!.byteOffset - f.headerBytes.byteOffset);
  add(
    'xwing-mlkem-ct-flipped',
    'HEADER:BOX_OPEN_FAILED',
    'one bit of the ML-KEM ciphertext flipped (implicit rejection)',
    flip(basic, boxAt + 100),
  );
  add(
    'xwing-x25519-ct-flipped',
    'HEADER:BOX_OPEN_FAILED',
    'one bit of the X25519 part of the X-Wing ciphertext flipped',
    flip(basic, boxAt + MLKEM_CT + 5),
  );
  {
    const zero = basic.slice();
    zero.fill(0, boxAt + MLKEM_CT, boxAt + XWING_CT);
    add(
      'xwing-x25519-ct-zero',
      'HEADER:BOX_OPEN_FAILED',
      'X25519 part of the ciphertext all zero (low order: refused by X-Wing)',
      zero,
    );
  }
  add(
    'xwing-wrapped-flipped',
    'HEADER:BOX_OPEN_FAILED',
    'one bit of the wrapped seed ‖ macKey ‖ senderKid flipped',
    flip(basic, boxAt + XWING_CT + 10),
  );
  {
    const t = fields(three);
    const carolSlot = t.header.kids.findIndex((k) => Buffer.compare(k, carol.xwingKid) === 0);
    const other = (carolSlot + 1) % 3;
    const boxes = [...t.header.boxes];
    [boxes[carolSlot], boxes[other]] = [boxes[other]!, boxes[carolSlot]!];
    const swapped = encodeEnvelope(SUITE2_SCHEMA_ID, { ...t, header: { ...t.header, boxes } });
    add(
      'xwing-slots-swapped',
      'HEADER:BOX_OPEN_FAILED',
      "carol's slot holds another recipient's box (the two boxes swapped): not carol's ciphertext",
      swapped,
      { recipient: carol },
    );
    // A co-recipient (bob) re-signs the session as itself; carol's box still names alice.
    const bobSlot = t.header.kids.findIndex((k) => Buffer.compare(k, bob.xwingKid) === 0);
    const box = openXWingBox(p, t.header, bobSlot, bob.xwing.secretKey);
    const { priv } = readPrivate(p, t.header, box.seed);
    const resigned = resignHeader(p, t.header, {
      seed: box.seed,
      senderKid: kid(p, 'ed25519', bob.sign.publicKey),
      signSecretKey: bob.sign.secretKey,
      priv,
    });
    add(
      'xwing-co-recipient-resigned',
      'HEADER:BAD_HEADER_SIGNATURE',
      "suite 2: bob signs alice's session as himself; carol's slot still names alice",
      encodeEnvelope(SUITE2_SCHEMA_ID, { ...t, header: resigned.header }),
      { recipient: carol },
    );
  }
  {
    const commitAt = 5 + f.headerBytes.length - 117 - 32;
    add(
      'xwing-commitment-flipped',
      'HEADER:COMMITMENT_MISMATCH',
      'suite 2: one bit of commit flipped',
      flip(basic, commitAt),
    );
    add(
      'xwing-private-flipped',
      'HEADER:PRIVATE_OPEN_FAILED',
      'suite 2: one bit of the private part flipped',
      flip(basic, commitAt + 32 + 5),
    );
  }

  // --- STALE, MESSAGE ---
  add(
    'xwing-header-expired',
    'STALE:HEADER_EXPIRED',
    'suite 2: opened 8 days after creation (horizon 7 days)',
    basic,
    { nowMs: CREATED_MS + 8 * 86_400_000 },
  );
  add('xwing-moved-partition', 'MESSAGE:BAD_TAG', 'suite 2: read from partition 1', basic, {
    partition: 1,
  });
  return vectors;
}
