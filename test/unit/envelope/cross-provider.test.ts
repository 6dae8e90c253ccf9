import { describe, expect, it } from 'vitest';
import { EnvelopeOpener, createSealingSession } from '../../../src/envelope/index.js';
import { outcomeOf } from './support/outcome.js';
import { loadProvider, PROVIDER_PAIRS } from './support/providers.js';
import { makeWorld, SCHEMA_FP, SCHEMA_ID, TOPIC } from './support/world.js';

describe('providers are byte-compatible for envelopes', () => {
  it.each(PROVIDER_PAIRS)(
    'sealed with %s, opened with %s (signed, keyed, 3 recipients)',
    async (from, to) => {
      const sealer = await loadProvider(from);
      const opener = await loadProvider(to);
      const w = makeWorld(sealer, ['alice', 'bob', 'carol', 'dave']);
      const s = createSealingSession({
        provider: sealer,
        clock: w.clock,
        envelopeSchemaId: SCHEMA_ID,
        namespace: w.namespace,
        topic: TOPIC,
        senderSigningSecretKey: w.id('alice').sign.secretKey,
        recipients: ['bob', 'carol', 'dave'].map((n) => ({
          kid: w.id(n).boxKid,
          publicKey: w.id(n).box.publicKey,
        })),
        streamId: sealer.randomBytes(16),
        lifetimeMs: 60_000,
        maxMessages: 10,
        signEveryMessage: true,
      });
      const key = new Uint8Array([1, 2]);
      const values = [0, 1, 2].map(
        (seq) =>
          s.seal({
            partition: 4,
            seq,
            key,
            schemaFp: SCHEMA_FP,
            contentType: 'a',
            payload: sealer.randomBytes(1024),
          }).value,
      );
      s.close();
      const o = new EnvelopeOpener({
        provider: opener,
        clock: w.clock,
        resolver: w.resolver,
        policy: w.policy,
        limits: w.limits,
        recipientKeys: [w.recipientKey('carol')],
      });
      for (const v of values)
        expect(outcomeOf(() => o.open(v, { topic: TOPIC, partition: 4, key }))).toBe('success');
      o.close();
    },
  );
});
