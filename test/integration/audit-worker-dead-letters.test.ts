/**
 * The audit worker dead-letters what it cannot log (issue #14 item 7): a sealed metadata record whose
 * batch is not a JSON array, and one holding an invalid event (here: an actor other than the verified
 * sender) go to the dead-letter topic with their original bytes (class PAYLOAD, signed by `audit`),
 * instead of being acknowledged with only a counter; the valid events beside the invalid one are
 * logged. Ledger: the dead-letter topic holds exactly the two refused records' bytes; the log holds
 * exactly the valid events.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditWorker } from '../../src/audit/audit-worker.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { decodeDeadLetterMetadata, DEAD_LETTER_HEADER } from '../../src/events/dead-letter.js';
import { canonicalEventBytes, type MetadataEvent } from '../../src/events/metadata-event.js';
import { METADATA_EVENTS_CONTENT_TYPE } from '../../src/pipeline/metadata-event-emitter.js';
import { readRaw } from '../support/pipeline-parties.js';
import { waitFor } from '../support/test-transport.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';
import { scenarioAuditWorkerOptions } from '../support/scenario-audit-worker.js';

const sc = useScenario({
  purpose: 'audit-dlq',
  clientId: 'audit-worker-dead-letters',
  topics: 0,
  metadataTopic: true,
  checkpointTopic: true,
  services: metadataToAudit,
});
const { t, transport } = sc;

let worker: AuditWorker | undefined;

afterAll(async () => {
  await worker?.stop();
});

const event = (i: number, actor: string): MetadataEvent => ({
  eventId: i.toString(16).padStart(32, '0'),
  type: 'session_opened',
  timeMs: 1_700_000_000_000 + i,
  actor,
  topic: 'orders',
});
const batchOf = (events: readonly MetadataEvent[]): Uint8Array =>
  new TextEncoder().encode(
    `[${events.map((e) => new TextDecoder().decode(canonicalEventBytes(e))).join(',')}]`,
  );

describe('audit worker', () => {
  it('dead-letters malformed batches and invalid events with their original bytes', async () => {
    const store = new SqliteAuditStore(join(sc.world.dir, 'audit.db'), sc.world.crypto);
    worker = new AuditWorker(await scenarioAuditWorkerOptions(sc, store, `audit-${t.metadata}`));
    await worker.start();

    const orders = await sc.producer('orders');
    const send = async (payload: Uint8Array) =>
      (
        await orders.producer.sendRaw({
          topic: t.metadata,
          contentType: METADATA_EVENTS_CONTENT_TYPE,
          recipients: ['audit'],
          messages: [{ key: null, payload }],
        })
      )[0]!;
    let sent;
    try {
      sent = {
        malformed: await send(new TextEncoder().encode('{"not":"an array"}')),
        mixed: await send(batchOf([event(1, 'orders'), event(2, 'billing'), event(3, 'orders')])),
        valid: await send(batchOf([event(4, 'orders')])),
      };
    } finally {
      await orders.producer.close();
    }

    // The log: exactly the valid events (1, 3, 4), once the last record was handled.
    await waitFor(
      async () => (await store.head()).count >= 3,
      'the valid events in the log',
      60_000,
    );
    const raw = await readRaw(transport, t.metadata, 3);
    const sourceValue = (offset: string) =>
      Buffer.from(raw.find((r) => r.offset === offset)!.value!);
    const dead = await readRaw(transport, t.dlq, 2);
    expect(dead.length).toBe(2);
    const byOffset = new Map(
      dead.map((d) => {
        const header = d.headers.filter((h) => h.key === DEAD_LETTER_HEADER).at(-1)!;
        const meta = decodeDeadLetterMetadata(header.value!)!;
        return [meta.offset, { meta, value: Buffer.from(d.value!) }];
      }),
    );
    expect([...byOffset.keys()].sort()).toEqual([sent.malformed.offset, sent.mixed.offset].sort());
    for (const offset of [sent.malformed.offset, sent.mixed.offset]) {
      const d = byOffset.get(offset)!;
      expect(d.meta).toMatchObject({ class: 'PAYLOAD', consumer: 'audit', topic: t.metadata });
      expect(d.value.equals(sourceValue(offset))).toBe(true);
    }
    await worker.stop();
    worker = undefined;
    const logged = new SqliteAuditStore(join(sc.world.dir, 'audit.db'), sc.world.crypto);
    try {
      expect((await logged.head()).count).toBe(3);
    } finally {
      await logged.close();
    }
  });
});
