/**
 * Issue #14.6: docs/SPEC.md §5 step 9 — the sealed schema fingerprint is compared with the writer
 * schema fetched by id BEFORE the payload is decoded. A record whose fingerprint does not match is
 * SCHEMA (SCHEMA_MISMATCH) even when its payload would make the decoder throw (here a poison Avro
 * string length), and the decoder never runs for it. Invariants from the ledgers: the dead-letter
 * topic holds exactly that record with class SCHEMA, the genuine record after it is handed out, and
 * the writer schema's decoder (its codec) ran for the genuine records only.
 */
import { describe, expect, it, vi } from 'vitest';
import { schemaFingerprint } from '../../src/envelope/derive.js';
import { createSealingSession } from '../../src/envelope/sealing-session.js';
import { DEAD_LETTER_HEADER, decodeDeadLetterMetadata } from '../../src/events/dead-letter.js';
import { AVRO_CONTENT_TYPE } from '../../src/pipeline/payload-content.js';
import { systemClock } from '../../src/runtime/clock.js';
import { readRaw } from '../support/pipeline-parties.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-fp',
  clientId: 'pipeline-schema-order',
  services: (_, defaults) => [...defaults, { name: 'audit', send: [], receive: ['audit-topic'] }],
});
const { topic, t, transport } = sc;

describe('schema fingerprint before decoding (#14.6)', () => {
  it('a mismatching fingerprint is SCHEMA_MISMATCH without the decoder running', async () => {
    const orders = await sc.producer();
    // Registers the writer schema: the poison frame below names the real id.
    await orders.producer.send({
      topic,
      messages: [{ key: 'k', value: { id: 'first', cents: 1, note: 'n' } }],
    });
    const registry = sc.world.registry();
    const schemaId = await registry.latestSchemaId(`${topic}-value`);
    const schemaText = (await registry.getSchema(schemaId)).text;

    // Poison Avro (Order.id declares a ~1 GiB string) under ANOTHER schema's fingerprint.
    const poisonFrame = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0]),
      Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x07]),
    ]);
    poisonFrame.writeUInt32BE(schemaId, 1);
    const billingDraft = sc.world.draft('billing');
    const session = createSealingSession({
      provider: sc.world.crypto,
      clock: systemClock,
      envelopeSchemaId: orders.producer.envelopeSchemaId,
      namespace: orders.directory.namespace,
      topic,
      senderSigningSecretKey: orders.identity.signingKey().secretKey,
      recipients: [{ kid: billingDraft.boxKid, publicKey: billingDraft.boxPublicKey }],
      streamId: sc.world.crypto.randomBytes(16),
      lifetimeMs: 60_000,
      maxMessages: 10,
    });
    const sealed = session.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: schemaFingerprint(sc.world.crypto, schemaText.replace('"note"', '"nota"')),
      contentType: AVRO_CONTENT_TYPE,
      payload: poisonFrame,
    });
    session.close();
    const raw = transport.producer();
    await raw.connect();
    sc.defer(() => raw.disconnect());
    await raw.send({
      topic,
      partition: 0,
      records: [{ key: null, value: Buffer.from(sealed.value) }],
    });
    const [after] = await orders.producer.send({
      topic,
      messages: [{ key: 'k', value: { id: 'after', cents: 2, note: 'n' } }],
    });

    const consumerRegistry = sc.world.registry();
    // The writer schema's decoder, as the consumer's registry client hands it out (cached by id).
    const decode = vi.spyOn((await consumerRegistry.getSchema(schemaId)).codec, 'decode');
    const billing = await sc.consumer('billing', {
      registry: consumerRegistry,
      keepDeliveries: true,
    });
    await waitFor(() => billing.delivered.has(after!.messageId), 'the record after the bad one');

    const [dead] = await readRaw(transport, t.dlq, 1);
    const meta = decodeDeadLetterMetadata(
      dead!.headers.filter((h) => h.key === DEAD_LETTER_HEADER).at(-1)!.value!,
    )!;
    expect(meta.class).toBe('SCHEMA');
    expect(meta.offset).toBe('1');
    expect(billing.deliveries.map((d) => d.offset)).toEqual(['0', '2']);
    // The decoder ran for the two genuine records only, never for the mismatching one.
    expect(decode).toHaveBeenCalledTimes(2);
  });
});
