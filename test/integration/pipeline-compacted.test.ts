/**
 * The compacted-topic policy (entityVersionTopics): per record key the sealed entityVersion must grow.
 * A new group reading an old value re-injected after a newer one (the original old record compacted
 * away, so its seq is fresh for the replay window) rejects it as STALE; the last versions survive a
 * restart in the sealed replay state record.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { schemaFingerprint } from '../../src/envelope/derive.js';
import { createSealingSession, type SealingSession } from '../../src/envelope/sealing-session.js';
import { AVRO_CONTENT_TYPE } from '../../src/pipeline/payload-content.js';
import { systemClock } from '../../src/runtime/clock.js';
import { waitFor } from '../support/test-transport.js';
import type { TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-cmp',
  clientId: 'pipeline-compacted',
  compacted: true,
  producer: true,
});
const { topic, transport } = sc;

const group = `billing-${topic}`;
let session: SealingSession | undefined;
const consumers: TestConsumer[] = [];

afterAll(async () => {
  for (const c of consumers) await c.consumer.close();
  session?.close();
});

describe('compacted topics: entity versions', () => {
  it('refuses an older entity version re-injected after a newer one, also after a restart', async () => {
    // Through the producer: versions 5 then 6 of sku-2, both accepted.
    await sc.orders.producer.send({
      topic,
      messages: [5, 6].map((v) => ({
        key: 'sku-2',
        value: { id: `sku-2@${v}`, cents: v, note: '' },
        entityVersion: v,
      })),
    });

    // Crafted with one stream: sku-1 version 2 at seq 1, then version 1 at seq 0 (the record the
    // attacker kept from before), then a version-0 record.
    const registry = sc.world.registry();
    const schemaId = await registry.latestSchemaId(`${topic}-value`);
    const schemaFp = schemaFingerprint(sc.world.crypto, (await registry.getSchema(schemaId)).text);
    const billing = sc.world.draft('billing');
    session = createSealingSession({
      provider: sc.world.crypto,
      clock: systemClock,
      envelopeSchemaId: sc.orders.producer.envelopeSchemaId,
      namespace: sc.orders.directory.namespace,
      topic,
      senderSigningSecretKey: sc.orders.identity.signingKey().secretKey,
      recipients: [{ kid: billing.boxKid, publicKey: billing.boxPublicKey }],
      streamId: sc.world.crypto.randomBytes(16),
      lifetimeMs: 600_000,
      maxMessages: 100,
    });
    const key = Buffer.from('sku-1');
    const seal = async (seq: number, entityVersion: number) =>
      Buffer.from(
        session!.seal({
          partition: 0,
          seq,
          key,
          schemaFp,
          contentType: AVRO_CONTENT_TYPE,
          payload: await registry.encode(schemaId, {
            id: `sku-1@${entityVersion}`,
            cents: entityVersion,
            note: '',
          }),
          entityVersion,
        }).value,
      );
    const raw = transport.producer();
    await raw.connect();
    const inject = async (value: Buffer) =>
      raw.send({ topic, partition: 0, records: [{ key, value }] });
    await inject(await seal(1, 2));
    await inject(await seal(0, 1));
    await inject(await seal(3, 0));

    const options = {
      groupId: group,
      entityVersionTopics: [topic],
      keepDeliveries: true,
    };
    const first = await sc.consumer('billing', options);
    consumers.push(first);
    await waitFor(
      async () => (await counterValue(first.promRegistry, 'sealpost_dead_lettered_total')) >= 2,
      'two STALE dead letters',
    );
    await waitFor(() => first.total() >= 3, 'three accepted versions');
    expect(first.deliveries.map((d) => (d.value as { id: string }).id).sort()).toEqual([
      'sku-1@2',
      'sku-2@5',
      'sku-2@6',
    ]);
    expect(
      await counterValue(first.promRegistry, 'sealpost_rejected_total', {
        class: 'STALE',
        code: 'ENTITY_VERSION_STALE',
      }),
    ).toBe(2);
    await first.consumer.close();
    consumers.pop();

    // After a restart the last versions come back from the sealed state: version 2 again (fresh seq) is STALE.
    await inject(await seal(2, 2));
    await inject(await seal(4, 3));
    await raw.disconnect();
    const second = await sc.consumer('billing', options);
    consumers.push(second);
    await waitFor(() => second.total() >= 1, 'version 3');
    await waitFor(
      async () => (await counterValue(second.promRegistry, 'sealpost_dead_lettered_total')) >= 1,
      'a STALE dead letter',
    );
    expect(second.deliveries.map((d) => (d.value as { id: string }).id)).toEqual(['sku-1@3']);
    expect(second.deliveries[0]!.entityVersion).toBe(3);
  });
});
