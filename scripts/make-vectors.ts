/**
 * Generates test/vectors/*.vector once (run: `npx tsx scripts/make-vectors.ts`), from fixed keys and a
 * deterministic random source. The suite-1 sealed boxes' ephemeral keys come from libsodium, so a
 * re-run changes those bytes: the committed files are the golden ones and must keep opening forever;
 * re-run only to add cases (and commit the diff deliberately). The suite-2 vectors (xwing-*) use
 * deterministic X-Wing encapsulation and are byte-for-byte reproducible
 * (test/unit/envelope/support/suite2-vectors.ts; a test rebuilds them). Names given as arguments write only those
 * vectors (`npx tsx scripts/make-vectors.ts golden-trace-context`), leaving the others as committed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { CryptoProvider, KeyPair } from '../src/crypto/provider.js';
import {
  createSealingSession,
  type DecodedEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  EnvelopeError,
  type EnvelopeFields,
  kid,
  type PaddingPolicy,
} from '../src/envelope/index.js';
import { ManualClock } from '../src/runtime/clock.js';
import { openBox, readPrivate, resignHeader } from '../test/unit/envelope/support/forge.js';
import { loadProvider } from '../test/unit/envelope/support/providers.js';
import { buildSuite2Vectors } from '../test/unit/envelope/support/suite2-vectors.js';
import { type EnvelopeVector, formatVector } from '../test/unit/envelope/support/vector-file.js';
import { flipBit, text, vectorInputs } from '../test/unit/envelope/support/vector-inputs.js';

const OUT = new URL('../test/vectors/', import.meta.url);
const SCHEMA_ID = 7;
const TOPIC = 'orders.v1';
const CREATED_MS = 1_750_000_000_000;
const NOW_MS = CREATED_MS + 60_000;

const p: CryptoProvider = await loadProvider('sodium-native');
const { h32, deterministic, signKeyPair, namespace } = vectorInputs(p);

interface Party {
  readonly name: string;
  readonly box: KeyPair;
  readonly boxKid: Uint8Array;
  readonly sign: KeyPair;
}

function party(name: string): Party {
  const secretKey = h32(`sealpost vector box key ${name}`);
  const box = { publicKey: p.boxPublicKeyFromSecret(secretKey), secretKey };
  return {
    name,
    box,
    boxKid: kid(p, 'x25519', box.publicKey),
    sign: signKeyPair(name),
  };
}

const alice = party('alice');
const bob = party('bob');
const carol = party('carol');
const dave = party('dave');

interface SealSpec {
  readonly to?: readonly Party[];
  readonly sign?: boolean;
  readonly padding?: PaddingPolicy;
  readonly partition?: number;
  readonly seq?: number;
  readonly key?: Uint8Array | null;
  readonly payload?: Uint8Array;
  readonly contentType?: string;
  readonly maxMessages?: number;
  readonly traceContext?: { traceId: Uint8Array; spanId: Uint8Array; traceFlags: number };
}

function sealOne(label: string, spec: SealSpec = {}): Uint8Array {
  const clock = new ManualClock(CREATED_MS);
  const random = deterministic(label);
  const streamId = new Uint8Array(16);
  random(streamId);
  const s = createSealingSession({
    provider: p,
    clock,
    envelopeSchemaId: SCHEMA_ID,
    namespace,
    topic: TOPIC,
    senderSigningSecretKey: alice.sign.secretKey,
    recipients: (spec.to ?? [bob]).map((r) => ({ kid: r.boxKid, publicKey: r.box.publicKey })),
    streamId,
    lifetimeMs: 3_600_000,
    maxMessages: spec.maxMessages ?? 100,
    signEveryMessage: spec.sign ?? false,
    padding: spec.padding ?? { kind: 'padme' },
    random,
  });
  const value = s.seal({
    partition: spec.partition ?? 0,
    seq: spec.seq ?? 0,
    key: spec.key ?? null,
    schemaFp: new Uint8Array(16).fill(0x5f),
    contentType: spec.contentType ?? 'application/vnd.sealpost.example+avro',
    payload: spec.payload ?? text('hello, sealpost'),
    ...(spec.traceContext === undefined ? {} : { traceContext: spec.traceContext }),
  }).value;
  s.close();
  return value;
}

const vectors: EnvelopeVector[] = [];
function add(
  name: string,
  expect: string,
  comment: string,
  envelope: Uint8Array,
  o: Partial<EnvelopeVector> & { recipient?: Party } = {},
) {
  const recipient = o.recipient ?? bob;
  vectors.push({
    name,
    expect,
    comment,
    schemaId: SCHEMA_ID,
    namespace,
    topic: TOPIC,
    partition: 0,
    key: null,
    nowMs: NOW_MS,
    recipientPublicKey: recipient.box.publicKey,
    recipientSecretKey: recipient.box.secretKey,
    sender: 'alice',
    senderSigningPublicKey: alice.sign.publicKey,
    senderStatus: 'active',
    payload: expect === 'success' ? text('hello, sealpost') : null,
    contentType: expect === 'success' ? 'application/vnd.sealpost.example+avro' : null,
    envelope,
    ...o,
  });
}

const fields = (v: Uint8Array): DecodedEnvelope =>
  decodeEnvelope(v, { envelopeSchemaId: SCHEMA_ID, namespace, maxCiphertextBytes: 1 << 20 });
const reencode = (v: Uint8Array, change: (f: EnvelopeFields) => EnvelopeFields, id = SCHEMA_ID) =>
  encodeEnvelope(id, change(fields(v)));
const flip = flipBit;

// --- golden envelopes ---
const basic = sealOne('basic');
add(
  'golden-basic',
  'success',
  'one recipient, unsigned, padmé, null key: the SPEC worked example',
  basic,
);
add(
  'golden-signed-three-recipients',
  'success',
  'three recipients, signEveryMessage, opened by the middle slot',
  sealOne('signed3', { to: [bob, carol, dave], sign: true }),
  {
    recipient: carol,
  },
);
add(
  'golden-record-key',
  'success',
  'record key "order-17", partition 5, seq 1000',
  sealOne('keyed', { key: text('order-17'), partition: 5, seq: 1000 }),
  {
    key: text('order-17'),
    partition: 5,
  },
);
add(
  'golden-empty-payload',
  'success',
  'empty payload and empty content type, no padding',
  sealOne('empty', { payload: new Uint8Array(0), contentType: '', padding: { kind: 'none' } }),
  {
    payload: new Uint8Array(0),
    contentType: '',
  },
);
add(
  'golden-one-message-session',
  'success',
  'maxMessages = 1, signed, 256-byte block padding',
  sealOne('single', { maxMessages: 1, sign: true, padding: { kind: 'block', blockBytes: 256 } }),
);
add(
  'not-addressed',
  'not-addressed',
  'dave is not a recipient: skipped, not a dead letter',
  basic,
  { recipient: dave },
);

// --- MALFORMED ---
add('bad-magic', 'MALFORMED:BAD_MAGIC', 'first byte 0x01', flip(basic, 0));
add(
  'wrong-schema-id',
  'MALFORMED:WRONG_SCHEMA_ID',
  'schema id 8 instead of the pinned 7',
  reencode(basic, (f) => f, SCHEMA_ID + 1),
);
add('truncated', 'MALFORMED:TRUNCATED', 'last byte cut off', basic.subarray(0, basic.length - 1));
add('trailing-bytes', 'MALFORMED:TRAILING_BYTES', 'one 0x00 appended', Uint8Array.of(...basic, 0));
{
  const hdr = fields(basic).headerBytes.length;
  const at = 5 + hdr; // seq 0 = 0x00
  add(
    'non-minimal-varint',
    'MALFORMED:NON_CANONICAL',
    'seq 0 written as 0x80 0x00 (avsc would accept it)',
    Uint8Array.of(...basic.subarray(0, at), 0x80, 0x00, ...basic.subarray(at + 1)),
  );
  const tagsAt = basic.length - 1 - 16 - 1;
  add(
    'extra-array-block',
    'MALFORMED:NON_CANONICAL',
    'tags: the one-tag block then a second one-tag block before the terminator',
    Uint8Array.of(
      ...basic.subarray(0, basic.length - 1),
      0x02,
      ...basic.subarray(tagsAt + 1, tagsAt + 17),
      0x00,
    ),
  );
}
add(
  'version-2',
  'MALFORMED:BAD_VERSION',
  'version 2',
  reencode(basic, (f) => ({ ...f, header: { ...f.header, version: 2 } })),
);
add(
  'suite-0',
  'MALFORMED:BAD_SUITE',
  'suite 0',
  reencode(basic, (f) => ({ ...f, header: { ...f.header, suite: 0 } })),
);
add(
  'wrong-namespace',
  'MALFORMED:WRONG_NAMESPACE',
  'namespace of another authority',
  reencode(basic, (f) => ({
    ...f,
    header: { ...f.header, namespace: new Uint8Array(16).fill(1) },
  })),
);
{
  const kids = Array.from({ length: 17 }, (_, i) => Uint8Array.from({ length: 16 }, () => i));
  add(
    'too-many-recipients',
    'MALFORMED:TOO_MANY_RECIPIENTS',
    '17 slots',
    reencode(basic, (f) => ({
      ...f,
      header: { ...f.header, kids, boxes: kids.map(() => new Uint8Array(128)) },
      tags: kids,
    })),
  );
  const three = fields(sealOne('signed3', { to: [bob, carol, dave], sign: true }));
  add(
    'kids-not-ascending',
    'MALFORMED:KIDS_NOT_ASCENDING',
    'three slots in reverse kid order',
    encodeEnvelope(SCHEMA_ID, {
      ...three,
      header: {
        ...three.header,
        kids: [...three.header.kids].reverse(),
        boxes: [...three.header.boxes].reverse(),
      },
    }),
    { recipient: carol },
  );
}
add(
  'tag-count',
  'MALFORMED:TAG_COUNT',
  'two tags for one slot',
  reencode(basic, (f) => ({ ...f, tags: [f.tags[0]!, f.tags[0]!] })),
);
{
  // A 16-byte commitment shifts every later field by 16 bytes; which check trips first depends on the
  // (random) bytes that land in the seq and length positions, so the code is taken from this file's
  // bytes once; the class must be MALFORMED.
  const short = reencode(basic, (f) => ({
    ...f,
    header: { ...f.header, commit: f.header.commit.subarray(0, 16) },
  }));
  let code = 'NONE';
  try {
    fields(short);
  } catch (err) {
    code = err instanceof EnvelopeError && err.coarse === 'MALFORMED' ? err.code : 'NOT_MALFORMED';
  }
  if (code === 'NONE' || code === 'NOT_MALFORMED')
    throw new Error('16-byte commitment must be MALFORMED');
  add(
    'commitment-16-bytes',
    `MALFORMED:${code}`,
    'a 16-byte commitment: every later fixed field shifts by 16 bytes',
    short,
  );
}

// --- CONTEXT ---
add(
  'moved-topic',
  'CONTEXT:TOPIC_MISMATCH',
  'read from payments.v1: refused before any crypto',
  basic,
  { topic: 'payments.v1' },
);

// --- HEADER ---
{
  const f = fields(basic);
  const commitAt = 5 + f.headerBytes.length - 117 - 32;
  add(
    'commitment-flipped',
    'HEADER:COMMITMENT_MISMATCH',
    'one bit of commit flipped',
    flip(basic, commitAt),
  );
  add(
    'box-flipped',
    'HEADER:BOX_OPEN_FAILED',
    'one bit of our sealed box flipped',
    flip(basic, commitAt - 1 - 10),
  );
  add(
    'private-flipped',
    'HEADER:PRIVATE_OPEN_FAILED',
    'one bit of the private part flipped',
    flip(basic, commitAt + 32 + 5),
  );
  add(
    'unknown-sender',
    'HEADER:UNKNOWN_SENDER',
    'the directory does not know the sender kid',
    basic,
    { senderStatus: 'unknown' },
  );
  add('revoked-sender', 'HEADER:SENDER_REVOKED', 'the sender key is revoked', basic, {
    senderStatus: 'revoked',
  });
  // A co-recipient (bob) re-signs the session as itself; carol rejects.
  const three = sealOne('signed3', { to: [bob, carol, dave], sign: true });
  const t = fields(three);
  const bobSlot = t.header.kids.findIndex((k) => Buffer.compare(k, bob.boxKid) === 0);
  const box = openBox(p, t.header, bobSlot, bob.box.publicKey, bob.box.secretKey);
  const { priv } = readPrivate(p, t.header, box.seed);
  const resigned = resignHeader(p, t.header, {
    seed: box.seed,
    senderKid: kid(p, 'ed25519', bob.sign.publicKey),
    signSecretKey: bob.sign.secretKey,
    priv,
  });
  add(
    'co-recipient-resigned',
    'HEADER:BAD_HEADER_SIGNATURE',
    "bob strips the private part and signs alice's session as himself; carol's box still names alice",
    encodeEnvelope(SCHEMA_ID, { ...t, header: resigned.header }),
    {
      recipient: carol,
    },
  );
}

// --- STALE ---
add(
  'header-expired',
  'STALE:HEADER_EXPIRED',
  'opened 8 days after creation (horizon 7 days)',
  basic,
  { nowMs: CREATED_MS + 8 * 86_400_000 },
);

// --- MESSAGE ---
add('moved-partition', 'MESSAGE:BAD_TAG', 'read from partition 1 instead of 0', basic, {
  partition: 1,
});
add('moved-key', 'MESSAGE:BAD_TAG', 'read with record key "x" instead of null', basic, {
  key: text('x'),
});
add(
  'ciphertext-flipped',
  'MESSAGE:BAD_TAG',
  'one bit of ct flipped',
  flip(basic, basic.length - 1 - 16 - 1 - 5),
);
add('tag-flipped', 'MESSAGE:BAD_TAG', 'one bit of our tag flipped', flip(basic, basic.length - 2));

// A version-2 body carrying a trace context (docs/SPEC.md §2.1).
const traceContext = {
  traceId: Uint8Array.from(Buffer.from('4bf92f3577b34da6a3ce929d0e0e4736', 'hex')),
  spanId: Uint8Array.from(Buffer.from('00f067aa0ba902b7', 'hex')),
  traceFlags: 1,
};
add(
  'golden-trace-context',
  'success',
  'one recipient, unsigned, padmé, null key; body version 2 with the trace-context extension',
  sealOne('trace-context', { traceContext }),
  {
    traceContext: Uint8Array.of(
      0,
      ...traceContext.traceId,
      ...traceContext.spanId,
      traceContext.traceFlags,
    ),
  },
);

// Suite 2 (X-Wing, docs/SPEC.md §2.2): deterministic, reproducible.
vectors.push(...buildSuite2Vectors(p));

const only = new Set(process.argv.slice(2));
mkdirSync(OUT, { recursive: true });
for (const v of vectors) {
  if (only.size > 0 && !only.has(v.name)) continue;
  writeFileSync(
    new URL(`${v.name}.vector`, OUT),
    `# sealpost envelope test vector (scripts/make-vectors.ts)\n${formatVector(v)}`,
  );
}
console.log(`wrote ${only.size > 0 ? only.size : vectors.length} vectors to ${OUT.pathname}`);
