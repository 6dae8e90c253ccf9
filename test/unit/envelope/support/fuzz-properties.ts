/**
 * Property-based fuzzing of the envelope decoder and opener, shared by the unit test (≥ 50k cases)
 * and `npm run fuzz` (1M+). Properties: any input yields a typed outcome (never an uncaught
 * exception), decoding alone only ever fails MALFORMED, a mutated envelope never opens unless what we
 * authenticate is unchanged (only co-recipients' tags may differ; the encoding is canonical), and each
 * input is handled within a time bound.
 */
import fc from 'fast-check';
import type { CryptoProvider } from '../../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  EnvelopeDecoder,
  EnvelopeError,
  type EnvelopeOpener,
} from '../../../../src/envelope/index.js';
import { makeWorld, SCHEMA_FP, SCHEMA_ID, SCHEMA_ID_SUITE2, TOPIC, type World } from './world.js';

export interface FuzzTarget {
  readonly world: World;
  readonly opener: EnvelopeOpener;
  /**
   * Valid envelopes to mutate, in suite 1 and suite 2 (X-Wing slots): 1 recipient, 3 recipients (we
   * are one), signed, keyed. The opener holds our keys of both suites.
   */
  readonly seeds: readonly Uint8Array[];
  /** A header-remembering decoder shared by all inputs: it must agree with decodeEnvelope. */
  readonly decoder: EnvelopeDecoder;
  /** Slowest single input seen (ms). */
  maxInputMs: number;
}

export function makeFuzzTarget(p: CryptoProvider): FuzzTarget {
  const world = makeWorld(p, ['alice', 'bob', 'carol', 'dave']);
  const seeds: Uint8Array[] = [];
  for (const [to, sign, payloadLen, suite] of [
    [['bob'], false, 20, 1],
    [['bob', 'carol', 'dave'], true, 300, 1],
    [['carol', 'bob'], false, 0, 1],
    [['bob'], false, 20, 2],
    [['bob', 'carol', 'dave'], true, 300, 2],
  ] as const) {
    const s = world.session('alice', to, { signEveryMessage: sign, suite });
    seeds.push(
      s.seal({
        partition: 0,
        seq: 7,
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'c',
        payload: new Uint8Array(payloadLen).fill(1),
      }).value,
    );
    s.close();
  }
  return {
    world,
    opener: world.opener('bob'),
    seeds,
    decoder: new EnvelopeDecoder(world.limits),
    maxInputMs: 0,
  };
}

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'overwrite'; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 2, 0x20),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    op: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('overwrite' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
);

function applyMutations(seed: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = seed;
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip': {
        if (b.length === 0) break;
        b = b.slice();
        b[at]! ^= 1 << m.bit;
        break;
      }
      case 'set':
        if (b.length === 0) break;
        b = b.slice();
        b[at] = m.value;
        break;
      case 'insert':
        b = Uint8Array.of(...b.subarray(0, at), ...m.bytes, ...b.subarray(at));
        break;
      case 'delete':
        b = Uint8Array.of(...b.subarray(0, at), ...b.subarray(at + m.length));
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'overwrite':
        b = b.slice();
        b.set(m.bytes.subarray(0, Math.max(0, b.length - at)), at);
        break;
    }
  }
  return b;
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * True when `a` and `b` carry the same header, seq, nonce, ciphertext and our tag: co-recipients' tags
 * are not ours to check (each recipient verifies only its own MAC), so those bytes may differ.
 */
function sameForUs(t: FuzzTarget, a: Uint8Array, b: Uint8Array): boolean {
  if (equal(a, b)) return true;
  const x = decodeEnvelope(a, t.world.limits);
  const y = decodeEnvelope(b, t.world.limits);
  const bob = t.world.id('bob');
  const ours = y.header.kids.findIndex((k) => equal(k, bob.boxKid) || equal(k, bob.xwingKid));
  return (
    equal(x.headerBytes, y.headerBytes) &&
    x.seq === y.seq &&
    equal(x.nonce, y.nonce) &&
    equal(x.ct, y.ct) &&
    ours >= 0 &&
    equal(x.tags[ours]!, y.tags[ours]!)
  );
}

function timed<T>(t: FuzzTarget, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - start;
    if (ms > t.maxInputMs) t.maxInputMs = ms;
  }
}

/** Random bytes behind a valid frame prefix (either suite's schema id): MALFORMED only. */
export function decoderOnRandomBytes(t: FuzzTarget): fc.IPropertyWithHooks<[boolean, Uint8Array]> {
  return fc.property(fc.boolean(), fc.uint8Array({ maxLength: 600 }), (suite2, tail) => {
    const input = Uint8Array.of(0, 0, 0, 0, suite2 ? SCHEMA_ID_SUITE2 : SCHEMA_ID, ...tail);
    try {
      timed(t, () => decodeEnvelope(input, t.world.limits));
      return true; // random bytes can only decode if they happen to be canonical
    } catch (err) {
      return err instanceof EnvelopeError && err.coarse === 'MALFORMED';
    }
  });
}

/** A comparable summary of a decode: the error code, or the decoded fields in hex. */
function decodeSummary(fn: () => ReturnType<typeof decodeEnvelope>): string {
  try {
    const e = fn();
    const h = (b: Uint8Array) => Buffer.from(b).toString('hex');
    return [
      h(e.headerBytes),
      e.header.topic,
      e.header.kids.map(h).join(','),
      e.seq,
      h(e.nonce),
      h(e.ct),
      e.tags.map(h).join(','),
    ].join('|');
  } catch (err) {
    return err instanceof EnvelopeError && err.coarse === 'MALFORMED'
      ? `MALFORMED:${err.code}`
      : `UNEXPECTED:${String(err)}`;
  }
}

/**
 * Mutated valid envelopes through the decoder: success or MALFORMED only, and the header-remembering
 * EnvelopeDecoder (fed every input in turn, valid seeds in between) agrees with decodeEnvelope.
 */
export function decoderOnMutations(t: FuzzTarget): fc.IPropertyWithHooks<[number, Mutation[]]> {
  return fc.property(
    fc.nat(t.seeds.length - 1),
    fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
    (i, ms) => {
      const input = applyMutations(t.seeds[i]!, ms);
      const plain = decodeSummary(() => timed(t, () => decodeEnvelope(input, t.world.limits)));
      if (plain.startsWith('UNEXPECTED')) return false;
      if (decodeSummary(() => t.decoder.decode(input)) !== plain) return false;
      // Re-prime the decoder with a valid seed half the time, so both its paths are exercised.
      if ((ms.length & 1) === 0) t.decoder.decode(t.seeds[i]!);
      return true;
    },
  );
}

/** Mutated envelopes through the whole opener: typed outcomes only; success only for unchanged bytes. */
export function openerOnMutations(t: FuzzTarget): fc.IPropertyWithHooks<[number, Mutation[]]> {
  return fc.property(
    fc.nat(t.seeds.length - 1),
    fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
    (i, ms) => {
      const seed = t.seeds[i]!;
      const input = applyMutations(seed, ms);
      try {
        const r = timed(t, () => t.opener.open(input, { topic: TOPIC, partition: 0, key: null }));
        if (r.kind === 'delivered') return sameForUs(t, input, seed);
        // Not addressed: a mutation removed our kid; 'duplicate'/'throttled' need hooks we do not pass.
        return r.kind === 'not-addressed';
      } catch (err) {
        return err instanceof EnvelopeError;
      }
    },
  );
}
