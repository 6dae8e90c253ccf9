import type { CryptoProvider } from '../../../../src/crypto/provider.js';
import {
  EnvelopeOpener,
  kid,
  type OpenedMessage,
  type SenderRecord,
  type SenderResolver,
} from '../../../../src/envelope/index.js';
import { ManualClock } from '../../../../src/runtime/clock.js';
import { outcomeOf } from './outcome.js';
import type { EnvelopeVector } from './vector-file.js';

/** Opens a vector the way a consumer would; returns the outcome and the delivered message. */
export function openVector(p: CryptoProvider, v: EnvelopeVector) {
  const senderKid = kid(p, 'ed25519', v.senderSigningPublicKey);
  const suite = v.suite === 2 ? 2 : 1;
  const recipientKid = kid(p, suite === 2 ? 'xwing' : 'x25519', v.recipientPublicKey);
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
    limits: {
      envelopeSchemaId: v.schemaId,
      ...(v.suite2SchemaId === undefined ? {} : { suite2EnvelopeSchemaId: v.suite2SchemaId }),
      namespace: v.namespace,
      maxCiphertextBytes: 1 << 20,
    },
    recipientKeys: [
      {
        kid: recipientKid,
        publicKey: v.recipientPublicKey,
        secretKey: v.recipientSecretKey,
        suite,
      },
    ],
  });
  let delivered:
    Pick<OpenedMessage, 'payload' | 'contentType' | 'senderIdentity' | 'traceContext'> | undefined;
  const outcome = outcomeOf(() => {
    const r = opener.open(v.envelope, { topic: v.topic, partition: v.partition, key: v.key });
    if (r.kind === 'delivered') delivered = r.message;
    return r;
  });
  opener.close();
  return { outcome, delivered };
}
