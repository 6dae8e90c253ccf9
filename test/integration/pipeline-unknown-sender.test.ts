/**
 * Issue #14.3: an outsider who may write to the topic and knows a recipient's public key seals 100
 * records whose sender the directory does not list (they open and end in UNKNOWN_SENDER). Invariants,
 * from ledgers: the partition is stalled for about one directory refresh in total (not
 * `unknownSenderWaitMs` per record): the genuine records behind the forged ones reach the handler
 * well within one such wait; all 100 forged records are on the dead-letter topic, class HEADER, each
 * source offset once; every genuine record is handed out.
 */
import { describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../src/envelope/derive.js';
import { createSealingSession } from '../../src/envelope/sealing-session.js';
import { DEAD_LETTER_HEADER, decodeDeadLetterMetadata } from '../../src/events/dead-letter.js';
import { AVRO_CONTENT_TYPE } from '../../src/pipeline/payload-content.js';
import { systemClock } from '../../src/runtime/clock.js';
import { readRaw } from '../support/pipeline-parties.js';
import { ORDER_SCHEMA } from '../support/pipeline-world.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-unk',
  clientId: 'pipeline-unknown-sender',
  services: ({ topics }, defaults) => [
    ...defaults,
    { name: 'audit', send: [], receive: ['audit-topic'] },
    { name: 'forger', send: [...topics], receive: [], unlisted: true },
  ],
});
const { topic, t, transport } = sc;

const FORGED = 100;
const GENUINE = 20;
/** The documented wait a single unknown sender was allowed before the fix (the default). */
const UNKNOWN_SENDER_WAIT_MS = 30_000;

describe('an outsider cannot stall a partition with unknown-sender records (#14.3)', () => {
  it('dead-letters 100 forged records after about one directory refresh; genuine records behind them flow', async () => {
    const billing = await sc.consumer('billing', {
      unknownSenderWaitMs: UNKNOWN_SENDER_WAIT_MS,
      maxRetryDelayMs: 1000,
    });
    const orders = await sc.producer();

    // The forger: a signing key the directory does not list, billing's public box key from it.
    const forger = await sc.world.identity('forger');
    const billingDraft = sc.world.draft('billing');
    const session = createSealingSession({
      provider: sc.world.crypto,
      clock: systemClock,
      envelopeSchemaId: orders.producer.envelopeSchemaId,
      namespace: orders.directory.namespace,
      topic,
      senderSigningSecretKey: forger.signingKey().secretKey,
      recipients: [{ kid: billingDraft.boxKid, publicKey: billingDraft.boxPublicKey }],
      streamId: sc.world.crypto.randomBytes(16),
      lifetimeMs: 3_600_000,
      maxMessages: FORGED,
    });
    const forged = Array.from({ length: FORGED }, (_, seq) => {
      const sealed = session.seal({
        partition: 0,
        seq,
        key: null,
        schemaFp: schemaFingerprint(sc.world.crypto, ORDER_SCHEMA),
        contentType: AVRO_CONTENT_TYPE,
        payload: new Uint8Array([0, 0, 0, 0, 1, 2]),
      });
      return { key: null, value: Buffer.from(sealed.value) };
    });
    session.close();
    const raw = transport.producer();
    await raw.connect();
    sc.defer(() => raw.disconnect());
    await raw.send({ topic, partition: 0, records: forged });

    const sentAt = Date.now();
    const results = await orders.producer.send({
      topic,
      messages: Array.from({ length: GENUINE }, (_, i) => ({
        key: `g-${i}`,
        value: { id: `g-${i}`, cents: i, note: 'genuine' },
      })),
    });
    const genuine = results.map((r) => r.messageId);
    expect(new Set(results.map((r) => r.partition))).toEqual(new Set([0]));

    // Behind 100 forged records, the genuine ones arrive well within ONE unknown-sender wait (the
    // fix: about one directory refresh for all of them; before it, 30 s for each).
    await waitFor(
      () => genuine.every((id) => billing.delivered.has(id)),
      'genuine records behind the forged ones',
      UNKNOWN_SENDER_WAIT_MS / 2,
    );
    const stalledMs = Date.now() - sentAt;
    expect(stalledMs).toBeLessThan(UNKNOWN_SENDER_WAIT_MS / 2);
    expect(genuine.map((id) => billing.delivered.get(id))).toEqual(Array(GENUINE).fill(1));

    const dead = await readRaw(transport, t.dlq, FORGED);
    expect(dead).toHaveLength(FORGED);
    const metas = dead.map((r) =>
      decodeDeadLetterMetadata(
        r.headers.filter((h) => h.key === DEAD_LETTER_HEADER).at(-1)!.value!,
      )!,
    );
    expect(new Set(metas.map((m) => m.class))).toEqual(new Set(['HEADER']));
    expect(metas.map((m) => Number(m.offset)).sort((x, y) => x - y)).toEqual(
      Array.from({ length: FORGED }, (_, i) => i),
    );
  });
});
