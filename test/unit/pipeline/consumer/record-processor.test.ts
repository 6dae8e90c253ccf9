/**
 * The consumer's record processor (src/pipeline/consumer/record-processor.ts) alone: records sealed
 * by a real SealedProducer (real crypto, identities and signed directory) on the in-memory transport,
 * opened by a real EnvelopeOpener, dead letters written by the real writer to the in-memory cluster.
 * The partition state's hand-out mark is replaced by a ledger (a collaborator passed in) that records
 * when the mark was asked for and can refuse it. Each test states what must happen to one record —
 * delivered, dead-lettered (class, code), skipped (reason), retried or paused — and checks it from the
 * handler's ledger, the replay window and the dead-letter topic, not from "no exception".
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  decodeDeadLetterMetadata,
  DEAD_LETTER_HEADER,
} from '../../../../src/events/dead-letter.js';
import type { ConsumedRecord, Transport } from '../../../../src/kafka/transport.js';
import type { KeyDirectory } from '../../../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../../../src/keys/identity.js';
import type { SealedDelivery } from '../../../../src/pipeline/consumer/consumer-types.js';
import {
  newPartitionEntry,
  type PartitionEntry,
} from '../../../../src/pipeline/consumer/partition-state.js';
import type { RecordProcessor } from '../../../../src/pipeline/consumer/record-processor.js';
import { SealedProducer } from '../../../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../../../src/registry/schema-registry-client.js';
import { systemClock } from '../../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../../src/testing.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../../model/registry-fake.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  type PipelineWorld,
} from '../../../support/pipeline-world.js';
import { realRecordProcessor } from './support/real-record-processor.js';

const DATA = 'rp-orders';
const OTHER = 'rp-shipping-only';
const ENTITIES = 'rp-entities';
const DLQ = 'rp-dlq';
const GROUP = 'rp-billing';

let world: PipelineWorld;
let directory: KeyDirectory;
let sender: LoadedIdentity;
let receiver: LoadedIdentity;
beforeAll(async () => {
  world = await makePipelineWorld([
    { name: 'orders', send: [DATA, OTHER, ENTITIES], receive: [] },
    { name: 'billing', send: [], receive: [DATA, ENTITIES] },
    { name: 'shipping', send: [], receive: [OTHER] },
  ]);
  directory = await world.directory();
  sender = await world.identity('orders');
  receiver = await world.identity('billing');
});
afterAll(async () => {
  await world?.cleanup();
});

/** The partition state's hand-out mark, as a ledger the test reads (and can make refuse). */
class MarkLedger {
  refuseNext = false;
  /** Offsets below this were possibly handed out by a previous owner. */
  loadedBelow: bigint | null = null;
  constructor(private readonly log: string[]) {}
  beforeHandOut(_entry: PartitionEntry, offset: bigint): Promise<void> {
    if (this.refuseNext) {
      this.refuseNext = false;
      return Promise.reject(new Error('state write failed (test)'));
    }
    this.log.push(`mark ${offset}`);
    return Promise.resolve();
  }
  belowLoadedMark(_entry: PartitionEntry, offset: bigint): boolean {
    return this.loadedBelow !== null && offset < this.loadedBelow;
  }
  writtenBeforeMs(): number {
    return systemClock.nowMs();
  }
}

interface Rig {
  readonly cluster: InMemoryCluster;
  readonly transport: Transport;
  readonly producer: SealedProducer;
  readonly processor: RecordProcessor;
  readonly marks: MarkLedger;
  /** What happened, in order: `mark <offset>` and `handler <offset>`. */
  readonly log: string[];
  readonly deliveries: SealedDelivery[];
  /** Handler calls to fail (each throws once). */
  throwNext: number;
  admit: boolean;
}

let rig: Rig;

beforeEach(async () => {
  const cluster = new InMemoryCluster();
  const transport = createInMemoryTransport({ cluster, clientId: 'rp' });
  const admin = transport.admin();
  await admin.connect();
  await admin.createTopics([
    { topic: DATA },
    { topic: OTHER },
    { topic: ENTITIES },
    { topic: DLQ },
  ]);
  await admin.disconnect();
  const registry = new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() });
  const producer = new SealedProducer({
    transport,
    registry,
    crypto: world.crypto,
    clock: systemClock,
    identity: sender,
    directory,
    valueSchemas: { [DATA]: ORDER_SCHEMA, [OTHER]: ORDER_SCHEMA, [ENTITIES]: ORDER_SCHEMA },
  });
  await producer.connect();
  const log: string[] = [];
  const deliveries: SealedDelivery[] = [];
  const marks = new MarkLedger(log);
  const r: Rig = {
    cluster,
    transport,
    producer,
    marks,
    log,
    deliveries,
    throwNext: 0,
    admit: true,
    processor: undefined as unknown as RecordProcessor,
  };
  (r as { processor: RecordProcessor }).processor = await realRecordProcessor({
    world,
    directory,
    receiver,
    transport,
    registry,
    groupId: GROUP,
    deadLetterTopic: DLQ,
    consumerOptions: { entityVersionTopics: [ENTITIES] },
    partitions: marks,
    handler: (d) => {
      r.log.push(`handler ${d.offset}`);
      r.deliveries.push(d);
      if (r.throwNext > 0) {
        r.throwNext--;
        return Promise.reject(new Error('handler failed (test)'));
      }
      return Promise.resolve();
    },
  });
  rig = r;
});

function entryFor(topic: string): PartitionEntry {
  return newPartitionEntry({ topic, partition: 0 }, { maxMarkLead: 5000, admit: () => rig.admit });
}

/** Seals `n` orders to `topic` (one partition) and returns the records as a consumer fetches them. */
async function sealed(
  topic: string,
  n: number,
  extra: { key?: string; entityVersion?: number } = {},
): Promise<ConsumedRecord[]> {
  const before = rig.cluster.records(topic, 0).length;
  await rig.producer.send({
    topic,
    messages: Array.from({ length: n }, (_, i) => ({
      key: extra.key ?? `k${i}`,
      value: { id: `o${before + i}`, cents: 100 + i, note: 'n' },
      ...(extra.entityVersion === undefined ? {} : { entityVersion: extra.entityVersion }),
    })),
  });
  return rig.cluster.records(topic, 0).slice(before);
}

async function raw(topic: string, value: Buffer | null): Promise<ConsumedRecord> {
  const p = rig.transport.producer();
  await p.connect();
  await p.send({ topic, partition: 0, records: [{ key: Buffer.from('k'), value }] });
  await p.disconnect();
  return rig.cluster.records(topic, 0).at(-1)!;
}

function deadLetters(): { partition: number; offset: string; class: string }[] {
  return rig.cluster.records(DLQ, 0).map((r) => {
    const h = r.headers.find((x) => x.key === DEAD_LETTER_HEADER);
    const m = h === undefined || h.value === null ? null : decodeDeadLetterMetadata(h.value);
    if (m === null) throw new Error('a dead letter without its metadata header');
    return { partition: m.partition, offset: m.offset, class: m.class };
  });
}

describe('RecordProcessor', () => {
  it('hands out each message id the producer reported, as its 32 lowercase hex characters', async () => {
    const before = rig.cluster.records(DATA, 0).length;
    const sent = await rig.producer.send({
      topic: DATA,
      messages: Array.from({ length: 8 }, (_, i) => ({
        key: `m${i}`,
        value: { id: `m${i}`, cents: i, note: 'id' },
      })),
    });
    const entry = entryFor(DATA);
    const outcomes: string[] = [];
    for (const record of rig.cluster.records(DATA, 0).slice(before))
      outcomes.push((await rig.processor.process(record, entry)).kind);
    expect(outcomes).toEqual(Array.from({ length: 8 }, () => 'delivered'));
    expect(rig.deliveries.map((d) => d.messageId)).toEqual(sent.map((m) => m.messageId));
    for (const d of rig.deliveries) expect(d.messageId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('delivers a sealed record after the hand-out mark, then marks its seq: the same record again is a duplicate', async () => {
    const [record] = await sealed(DATA, 1);
    const entry = entryFor(DATA);
    expect(await rig.processor.process(record!, entry)).toEqual({ kind: 'delivered' });
    expect(rig.log).toEqual(['mark 0', 'handler 0']);
    const d = rig.deliveries[0]!;
    expect(d.value).toEqual({ id: 'o0', cents: 100, note: 'n' });
    expect(d.sender).toBe('orders');
    expect(d).toMatchObject({ topic: DATA, partition: 0, offset: '0', redelivery: false });
    expect(d.messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(d.idempotencyKey).toMatch(/^[0-9a-f]+\.[0-9a-f]+\.0\.\d+$/);
    expect(typeof d.schemaId).toBe('number');
    expect(entry.state.windows.size).toBe(1);
    // Fetched again (e.g. after a rewind): never handed out twice.
    const again = { ...record!, value: Buffer.from(record!.value!) };
    expect(await rig.processor.process(again, entry)).toEqual({
      kind: 'skipped',
      reason: 'DUPLICATE',
    });
    expect(rig.log).toEqual(['mark 0', 'handler 0']);
  });

  it('retries a record whose handler threw, without marking it, and flags the next hand-out', async () => {
    const [record] = await sealed(DATA, 1);
    const entry = entryFor(DATA);
    rig.throwNext = 1;
    expect(await rig.processor.process(record!, entry)).toEqual({
      kind: 'retry',
      afterMs: 0,
      reason: 'handler',
    });
    expect(entry.state.windows.size).toBe(0);
    // The consumer hands the same fetched record to the processor again.
    const again = { ...record!, value: Buffer.from(record!.value!) };
    expect(await rig.processor.process(again, entry)).toEqual({ kind: 'delivered' });
    expect(rig.deliveries.map((d) => d.redelivery)).toEqual([false, true]);
    expect(rig.deliveries[0]!.idempotencyKey).toBe(rig.deliveries[1]!.idempotencyKey);
    expect(entry.state.windows.size).toBe(1);
  });

  it('flags a record below the mark the previous owner persisted, and only those', async () => {
    const records = await sealed(DATA, 3);
    const entry = entryFor(DATA);
    rig.marks.loadedBelow = 2n;
    for (const r of records) expect((await rig.processor.process(r, entry)).kind).toBe('delivered');
    expect(rig.deliveries.map((d) => [d.offset, d.redelivery])).toEqual([
      ['0', true],
      ['1', true],
      ['2', false],
    ]);
  });

  it('hands nothing out when the hand-out mark cannot be written (retry, nothing marked)', async () => {
    const [record] = await sealed(DATA, 1);
    const entry = entryFor(DATA);
    rig.marks.refuseNext = true;
    expect(await rig.processor.process(record!, entry)).toEqual({
      kind: 'retry',
      afterMs: 500,
      reason: 'replay-state-write',
    });
    expect(rig.log).toEqual([]);
    expect(entry.state.windows.size).toBe(0);
  });

  it('skips a tombstone and a record sealed only for another identity, handing out nothing', async () => {
    const tombstone = await raw(DATA, null);
    expect(await rig.processor.process(tombstone, entryFor(DATA))).toEqual({
      kind: 'skipped',
      reason: 'TOMBSTONE',
    });
    const [forShipping] = await sealed(OTHER, 1);
    expect(await rig.processor.process(forShipping!, entryFor(OTHER))).toEqual({
      kind: 'skipped',
      reason: 'NOT_ADDRESSED',
    });
    expect(rig.log).toEqual([]);
    expect(deadLetters()).toEqual([]);
  });

  it('dead-letters a record that is not an envelope, with its class, once the write is acknowledged', async () => {
    const junk = await raw(DATA, Buffer.from('not an envelope at all'));
    const outcome = await rig.processor.process(junk, entryFor(DATA));
    expect(outcome.kind).toBe('dead-lettered');
    if (outcome.kind !== 'dead-lettered') return;
    expect(deadLetters()).toEqual([{ partition: 0, offset: junk.offset, class: outcome.coarse }]);
    expect(rig.log).toEqual([]);
  });

  it('retries instead of moving on when the dead-letter write fails', async () => {
    const junk = await raw(DATA, Buffer.from('not an envelope at all'));
    rig.cluster.failNextSend(undefined, { topic: DLQ });
    expect(await rig.processor.process(junk, entryFor(DATA))).toEqual({
      kind: 'retry',
      afterMs: 500,
      reason: 'dead-letter-write',
    });
    expect(deadLetters()).toEqual([]);
    // The next attempt writes it.
    expect((await rig.processor.process(junk, entryFor(DATA))).kind).toBe('dead-lettered');
    expect(deadLetters()).toHaveLength(1);
  });

  it('pauses (a token wait, not a failure) when admission refuses the header work', async () => {
    const [record] = await sealed(DATA, 1);
    rig.admit = false;
    const outcome = await rig.processor.process(record!, entryFor(DATA));
    expect(outcome).toMatchObject({ kind: 'pause', reason: 'admission' });
    expect(rig.log).toEqual([]);
    expect(deadLetters()).toEqual([]);
  });

  it('dead-letters an entity version that does not grow (STALE), after delivering the newer one', async () => {
    const [newer] = await sealed(ENTITIES, 1, { key: 'entity-1', entityVersion: 2 });
    const [older] = await sealed(ENTITIES, 1, { key: 'entity-1', entityVersion: 1 });
    const entry = entryFor(ENTITIES);
    expect(await rig.processor.process(newer!, entry)).toEqual({ kind: 'delivered' });
    expect(await rig.processor.process(older!, entry)).toEqual({
      kind: 'dead-lettered',
      coarse: 'STALE',
      code: 'ENTITY_VERSION_STALE',
    });
    expect(rig.deliveries.map((d) => d.entityVersion)).toEqual([2]);
    expect(deadLetters()).toEqual([{ partition: 0, offset: older!.offset, class: 'STALE' }]);
  });
});
