import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { EnvelopeOpener, kid, type SenderRecord, type SenderResolver } from '../../../src/envelope/index.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { outcomeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_NAMES } from './support/providers.js';
import { type EnvelopeVector, parseVector } from './support/vector-file.js';

const DIR = new URL('../../vectors/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f.endsWith('.vector')).sort();

/** Opens a vector the way a consumer would; returns the outcome and the delivered message. */
export function openVector(p: CryptoProvider, v: EnvelopeVector) {
  const senderKid = kid(p, 'ed25519', v.senderSigningPublicKey);
  const recipientKid = kid(p, 'x25519', v.recipientPublicKey);
  const resolver: SenderResolver = {
    resolveSender: (k, topic): SenderRecord | undefined =>
      v.senderStatus === 'unknown' || Buffer.compare(k, senderKid) !== 0
        ? undefined
        : {
            identity: v.sender,
            signingPublicKey: v.senderSigningPublicKey,
            status: v.senderStatus as SenderRecord['status'],
            validFromMs: 0,
            validUntilMs: Number.MAX_SAFE_INTEGER,
            retiredAtMs: v.nowMs,
            maySendOnTopic: topic === v.topic,
          },
    mayReceive: (k, topic) => Buffer.compare(k, recipientKid) === 0 && topic === v.topic,
    epoch: () => 1,
  };
  const opener = new EnvelopeOpener({
    provider: p,
    clock: new ManualClock(v.nowMs),
    resolver,
    policy: { skewMs: 300_000, horizonMs: 7 * 86_400_000, maxSessionLifetimeMs: 86_400_000 },
    limits: { envelopeSchemaId: v.schemaId, namespace: v.namespace, maxCiphertextBytes: 1 << 20 },
    recipientKeys: [{ kid: recipientKid, publicKey: v.recipientPublicKey, secretKey: v.recipientSecretKey }],
  });
  let delivered: { payload: Uint8Array; contentType: string; senderIdentity: string } | undefined;
  const outcome = outcomeOf(() => {
    const r = opener.open(v.envelope, { topic: v.topic, partition: v.partition, key: v.key });
    if (r.kind === 'delivered') delivered = r.message;
    return r;
  });
  opener.close();
  return { outcome, delivered };
}

describe('test/vectors', () => {
  it('holds golden envelopes and failures of every coarse class the pure module produces', () => {
    const expects = files.map((f) => parseVector(f, readFileSync(new URL(f, DIR), 'utf8')).expect);
    expect(expects.filter((e) => e === 'success').length).toBeGreaterThanOrEqual(5);
    for (const cls of ['MALFORMED', 'CONTEXT', 'HEADER', 'STALE', 'MESSAGE']) expect(expects.some((e) => e.startsWith(`${cls}:`))).toBe(true);
  });
});

describe.each(PROVIDER_NAMES)('test/vectors (%s)', (providerName) => {
  let p: CryptoProvider;
  beforeAll(async () => {
    p = await loadProvider(providerName);
  });

  it.each(files)('%s', (file) => {
    const v = parseVector(file, readFileSync(new URL(file, DIR), 'utf8'));
    const { outcome, delivered } = openVector(p, v);
    expect(outcome).toBe(v.expect);
    if (v.expect === 'success') {
      expect(delivered).toBeDefined();
      expect(Buffer.from(delivered!.payload).toString('hex')).toBe(Buffer.from(v.payload!).toString('hex'));
      expect(delivered!.contentType).toBe(v.contentType);
      expect(delivered!.senderIdentity).toBe(v.sender);
    }
  });
});
