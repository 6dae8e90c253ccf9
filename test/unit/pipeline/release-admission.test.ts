/**
 * ReleaseAdmission alone (docs/SPEC.md §11.3), over a real signed directory and real sealed records
 * (no Kafka): the order of R1–R7, every refusal code, and what `accepted()` records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../../src/envelope/derive.js';
import { EnvelopeError } from '../../../src/envelope/errors.js';
import type { ReleaseFields } from '../../../src/envelope/release-envelope.js';
import { ReplayWindow } from '../../../src/envelope/replay-window.js';
import { createSealingSession } from '../../../src/envelope/sealing-session.js';
import type { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';
import { ReleaseAdmission } from '../../../src/pipeline/consumer/release-admission.js';
import { systemClock } from '../../../src/runtime/clock.js';
import type { PipelineWorld } from '../../support/pipeline-world.js';
import {
  emptyReplayState,
  GROUP,
  HOUR,
  releaseRig,
  signedRelease,
  TOPIC,
  type ReleaseRig,
} from './release-rig.js';

let rig: ReleaseRig;
let world: PipelineWorld;
let directory: KeyDirectory;
let ops: LoadedIdentity;
let billing: LoadedIdentity;
let orders: LoadedIdentity;
let now = 0;
const clock = { nowMs: () => now };

beforeAll(async () => {
  rig = await releaseRig();
  ({ world, directory, ops, billing, orders } = rig);
});
afterAll(async () => {
  await world?.cleanup();
});

/** One sealed record of `orders` to billing at `seq` (partition 0, key k), created at `now`. */
function sealed(seq: number): Uint8Array {
  const b = world.draft('billing');
  const session = createSealingSession({
    provider: world.crypto,
    clock,
    envelopeSchemaId: 7,
    namespace: directory.namespace,
    topic: TOPIC,
    senderSigningSecretKey: orders.signingKey().secretKey,
    recipients: [{ kid: b.boxKid, publicKey: b.boxPublicKey }],
    streamId: new Uint8Array(16).fill(5),
    lifetimeMs: HOUR,
    maxMessages: 10,
  });
  try {
    return session.seal({
      partition: 0,
      seq,
      key: Buffer.from('k'),
      schemaFp: schemaFingerprint(world.crypto, 'raw'),
      contentType: 'application/octet-stream',
      payload: new Uint8Array([1, 2, 3]),
    }).value;
  } finally {
    session.close();
  }
}

const release = (inner: Uint8Array, over: Partial<ReleaseFields> = {}, by = ops): Uint8Array =>
  signedRelease(rig, inner, now, over, by);

const admission = (horizonMs = 8 * 86_400_000) =>
  new ReleaseAdmission({
    crypto: world.crypto,
    clock,
    directory,
    identity: billing,
    group: GROUP,
    policy: { skewMs: 60_000, horizonMs, maxSessionLifetimeMs: 25 * HOUR },
    limits: { envelopeSchemaId: 7, namespace: directory.namespace, maxCiphertextBytes: 1 << 20 },
  });
const state = emptyReplayState;
const ctx = { topic: TOPIC, partition: 0, key: Buffer.from('k') };
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof EnvelopeError ? err.code : String(err);
  }
};

describe('ReleaseAdmission (docs/SPEC.md §11.3)', () => {
  it('accepts a record behind its window and past the horizon once; then DUPLICATE by release id', () => {
    now = systemClock.nowMs();
    const inner = sealed(3);
    now += 2 * HOUR; // older than a 1 h horizon
    const a = admission(HOUR);
    const s = state();
    const w = new ReplayWindow(now);
    w.mark(3 + 5000, now); // seq 3 is far behind the window
    const opened = a.open(release(inner), ctx, s, {});
    expect(opened.result.kind).toBe('delivered');
    if (opened.result.kind !== 'delivered') return;
    s.windows.set(opened.result.message.replayKey, w);
    opened.accepted(s, opened.result.message);
    expect(s.releases?.size).toBe(1);
    expect(w.highest).toBe(5003); // not slid, not marked: behind the window
    // The same release, and another release of the same record, are DUPLICATE.
    expect(a.open(release(inner), ctx, s, {}).result.kind).toBe('duplicate');
    expect(a.open(release(inner, { entryId: 2 }), ctx, s, {}).result.kind).toBe('duplicate');
  });

  it('uses the window: a marked seq is DUPLICATE, a fresh one in the window is marked, a shrunk window is not trusted', () => {
    now = systemClock.nowMs();
    const a = admission();
    const s = state();
    const first = a.open(release(sealed(10)), ctx, s, {});
    if (first.result.kind !== 'delivered') throw new Error('not delivered');
    const rk = first.result.message.replayKey;
    const w = new ReplayWindow(now);
    w.mark(12, now);
    s.windows.set(rk, w);
    first.accepted(s, first.result.message);
    expect(w.check(10)).toBe('duplicate'); // marked by the release
    w.mark(11, now);
    expect(a.open(release(sealed(11)), ctx, s, {}).result.kind).toBe('duplicate');
    w.shrink(); // every seq ≤ 12 now "seen": a release of seq 9 is still accepted
    expect(a.open(release(sealed(9)), ctx, s, {}).result.kind).toBe('delivered');
    // No window for the stream: none is created.
    const empty = state();
    const r = a.open(release(sealed(4)), ctx, empty, {});
    if (r.result.kind !== 'delivered') throw new Error('not delivered');
    r.accepted(empty, r.result.message);
    expect(empty.windows.size).toBe(0);
  });

  it('refuses with the §5.1 codes, in the order R1–R4, and skips another group’s release', () => {
    now = systemClock.nowMs();
    const a = admission();
    const inner = sealed(1);
    const s = state();
    const open = (value: Uint8Array, at = ctx) => codeOf(() => a.open(value, at, s, {}));
    const good = release(inner);
    expect(open(good.subarray(0, 40))).toBe('RELEASE_MALFORMED');
    expect(open(good, { ...ctx, partition: 1 })).toBe('RELEASE_WRONG_TARGET');
    expect(open(release(inner, { topic: 'payments' }))).toBe('RELEASE_WRONG_TARGET');
    expect(open(release(inner, { namespace: new Uint8Array(16) }))).toBe('RELEASE_WRONG_TARGET');
    expect(a.open(release(inner, { group: 'other' }), ctx, s, {}).result).toEqual({
      kind: 'not-addressed',
      slotKids: [],
    });
    expect(open(release(inner, {}, billing))).toBe('RELEASE_NOT_GRANTED');
    const unknownKid = release(inner, { operatorKid: new Uint8Array(16).fill(0xee) });
    expect(open(unknownKid)).toBe('UNKNOWN_SENDER');
    const badSig = Uint8Array.from(good);
    badSig[badSig.length - 2]! ^= 0x10;
    expect(open(badSig)).toBe('RELEASE_BAD_SIGNATURE');
    expect(open(release(inner, { issuedAtMs: now + 2 * 60_000, expiresAtMs: now + HOUR }))).toBe(
      'RELEASE_BAD_TIMES',
    );
    expect(open(release(inner, { expiresAtMs: now + 8 * 86_400_000 }))).toBe('RELEASE_BAD_TIMES');
    now += HOUR; // issued 10 min before, valid for 10 min (the operator key was valid then)
    expect(open(release(inner, { issuedAtMs: now - 600_000, expiresAtMs: now - 1 }))).toBe(
      'RELEASE_EXPIRED',
    );
    expect(s.releases).toBeUndefined();
  });
});
