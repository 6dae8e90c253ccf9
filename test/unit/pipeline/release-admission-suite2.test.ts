/**
 * Quarantine releases (docs/SPEC.md §11) of suite-2 records: the inner record of a release may carry
 * a suite-2 header (16 slots of 1,232 bytes) around a ciphertext at the consumer's limit, and the
 * topic's suite policy applies to the inner record as to any record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../../src/envelope/derive.js';
import { EnvelopeError } from '../../../src/envelope/errors.js';

import { createSealingSession } from '../../../src/envelope/sealing-session.js';
import type { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';
import { computeKid } from '../../../src/keys/kid.js';
import { SuitePolicy } from '../../../src/keys/suite-policy.js';
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

const SUITE1_ID = 7;
const SUITE2_ID = 8;
const MAX_CIPHERTEXT = 4096;
let rig: ReleaseRig;
let world: PipelineWorld;
let directory: KeyDirectory;
let orders: LoadedIdentity;
let billing: LoadedIdentity;
const clock = { nowMs: () => systemClock.nowMs() };

beforeAll(async () => {
  rig = await releaseRig({ xwing: true });
  ({ world, directory, orders, billing } = rig);
});
afterAll(async () => {
  await world?.cleanup();
});

/** A record of `orders` sealed to billing and 15 other X-Wing keys (suite 2), or to billing alone (suite 1). */
function sealed(suite: 1 | 2, payloadBytes: number): Uint8Array {
  const b = world.draft('billing');
  const others = Array.from({ length: 15 }, () => {
    const pk = world.crypto.xwingKeyPairFromSeed(world.crypto.randomBytes(32)).publicKey;
    return { kid: computeKid(world.crypto, 'xwing', pk), publicKey: pk };
  });
  const session = createSealingSession({
    provider: world.crypto,
    clock,
    envelopeSchemaId: suite === 2 ? SUITE2_ID : SUITE1_ID,
    ...(suite === 2 ? { suite } : {}),
    namespace: directory.namespace,
    topic: TOPIC,
    senderSigningSecretKey: orders.signingKey().secretKey,
    recipients:
      suite === 2
        ? [{ kid: b.kemKid!, publicKey: b.kemPublicKey! }, ...others]
        : [{ kid: b.boxKid, publicKey: b.boxPublicKey }],
    streamId: world.crypto.randomBytes(16),
    lifetimeMs: HOUR,
    maxMessages: 10,
    maxCiphertextBytes: MAX_CIPHERTEXT,
  });
  try {
    return session.seal({
      partition: 0,
      seq: 0,
      key: Buffer.from('k'),
      schemaFp: schemaFingerprint(world.crypto, 'raw'),
      contentType: 'application/octet-stream',
      payload: new Uint8Array(payloadBytes).fill(7),
    }).value;
  } finally {
    session.close();
  }
}

const release = (inner: Uint8Array): Uint8Array => signedRelease(rig, inner, clock.nowMs());

const admission = (suites?: SuitePolicy) =>
  new ReleaseAdmission({
    crypto: world.crypto,
    clock,
    directory,
    identity: billing,
    group: GROUP,
    policy: { skewMs: 60_000, horizonMs: 8 * 86_400_000, maxSessionLifetimeMs: 25 * HOUR },
    limits: {
      envelopeSchemaId: SUITE1_ID,
      suite2EnvelopeSchemaId: SUITE2_ID,
      namespace: directory.namespace,
      maxCiphertextBytes: MAX_CIPHERTEXT,
    },
    ...(suites === undefined
      ? {}
      : { acceptsSuite: (topic: string, suite: number) => suites.opens(topic, suite) }),
  });
const state = emptyReplayState;
const ctx = { topic: TOPIC, partition: 0, key: Buffer.from('k') };

describe('releases of suite-2 records', () => {
  it('admits a 16-recipient suite-2 record whose ciphertext is at the consumer limit', () => {
    const inner = sealed(2, 3500);
    // The header alone is larger than the room releases used to leave for it (8 KiB).
    expect(inner.length).toBeGreaterThan(MAX_CIPHERTEXT + 8192);
    const opened = admission().open(release(inner), ctx, state(), {});
    expect(opened.result.kind).toBe('delivered');
    if (opened.result.kind === 'delivered') {
      expect(opened.result.message.suite).toBe(2);
      expect(opened.result.message.payload).toEqual(new Uint8Array(3500).fill(7));
    }
  });

  it('applies the topic suite policy to the inner record: no suite-1 record into a require topic', () => {
    const strict = admission(new SuitePolicy({ topics: { [TOPIC]: 'require' } }));
    let code: string | undefined;
    try {
      strict.open(release(sealed(1, 10)), ctx, state(), {});
    } catch (err) {
      expect(err).toBeInstanceOf(EnvelopeError);
      code = (err as EnvelopeError).code;
    }
    expect(code).toBe('SUITE_NOT_ALLOWED');
    expect(strict.open(release(sealed(2, 10)), ctx, state(), {}).result.kind).toBe('delivered');
  });
});
