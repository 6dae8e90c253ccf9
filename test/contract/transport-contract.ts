/**
 * The Transport port's contract (src/kafka/transport.ts), as one vitest suite that every adapter
 * runs: the kafkajs adapter on the real broker (test/integration/transport-contract-kafkajs.test.ts)
 * and the in-memory one (test/unit/kafka/in-memory-transport-contract.test.ts). It covers what the
 * library relies on: produce acks with offsets in order per partition, key → partition, records
 * byte-exact (headers, null keys, tombstones), consuming from the committed offset, commits with
 * metadata read back by the admin, pause/resume/seek, resolveOffset (unresolved records come again),
 * handler failures, a second member joining (assignment and rebalancing listeners), admin topic
 * calls and typed errors, and the broker's size limit on a record and on a batch.
 *
 * Timing is where the two legitimately differ (a real group join takes seconds, an in-memory one a
 * tick), so the suite never asserts durations or that something happened *within* a time: it waits
 * for a positive signal, bounded by the subject's `waitMs`, and asserts what arrived. "Nothing else
 * arrived" is only checked behind a positive signal that the same fetch loop produced later.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DefaultPartitioner } from '../../src/kafka/default-partitioner.js';
import type {
  ConsumedRecord,
  ConsumerRunOptions,
  TopicPartition,
  Transport,
  TransportAdmin,
  TransportConsumer,
  TransportConsumerOptions,
  TransportHeader,
  TransportProducer,
} from '../../src/kafka/transport.js';

/** What an adapter gives the contract. */
export interface TransportUnderTest {
  /**
   * A client of the cluster under test. Each call may be a separate client (its own connections);
   * all of them see the same topics and groups.
   */
  client(): Transport;
  /** Upper bound of any wait for a positive signal, in ms. */
  readonly waitMs: number;
  /** Consumer options suited to the adapter (e.g. short heartbeats on a real broker). */
  readonly consumerOptions?: Omit<TransportConsumerOptions, 'groupId'>;
  /** Called once after the suite. */
  teardown?(): Promise<void>;
}

const hex = (): string => randomBytes(5).toString('hex');

/** Header values per key, in order (what the port promises about header order). */
function byKey(headers: readonly TransportHeader[]): Record<string, (Buffer | null)[]> {
  const out: Record<string, (Buffer | null)[]> = {};
  for (const h of headers) (out[h.key] ??= []).push(h.value);
  return out;
}

/** Registers the contract tests for one adapter. */
export function transportContract(name: string, setup: () => Promise<TransportUnderTest>): void {
  describe(`Transport contract: ${name}`, () => {
    let subject: TransportUnderTest;
    let admin: TransportAdmin;
    const topics: string[] = [];
    const cleanup: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      subject = await setup();
      admin = subject.client().admin();
      await admin.connect();
    });

    afterEach(async () => {
      for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
    });

    afterAll(async () => {
      if (admin === undefined) return;
      if (topics.length > 0) await admin.deleteTopics(topics).catch(() => undefined);
      await admin.disconnect();
      await subject.teardown?.();
    });

    async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
      const deadline = performance.now() + subject.waitMs;
      while (!(await check())) {
        if (performance.now() > deadline)
          throw new Error(`timed out after ${subject.waitMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }

    async function topic(purpose: string, numPartitions = 1): Promise<string> {
      const t = `test-contract-${purpose}-${hex()}`;
      expect(await admin.createTopics([{ topic: t, numPartitions, replicationFactor: 1 }])).toBe(
        true,
      );
      topics.push(t);
      return t;
    }

    async function producer(): Promise<TransportProducer> {
      const p = subject.client().producer();
      await p.connect();
      cleanup.push(() => p.disconnect());
      return p;
    }

    function consumer(groupId = `contract-${hex()}`): TransportConsumer {
      const c = subject.client().consumer({ ...subject.consumerOptions, groupId });
      cleanup.push(() => c.disconnect());
      return c;
    }

    /** A running consumer of `t` from the beginning. */
    async function consume(
      t: string,
      run: ConsumerRunOptions,
      options: {
        readonly groupId?: string;
        readonly before?: (c: TransportConsumer) => void;
      } = {},
    ): Promise<TransportConsumer> {
      const c = consumer(options.groupId);
      options.before?.(c);
      await c.connect();
      await c.subscribe({ topics: [t], fromBeginning: true });
      await c.run(run);
      return c;
    }

    const values = (records: readonly { value: Buffer | null }[]): string[] =>
      records.map((r) => r.value?.toString() ?? '<null>');
    const text = (v: string) => ({ key: null, value: Buffer.from(v) });
    const processed = (collect: ConsumedRecord[]) => ({
      eachMessage: (r: ConsumedRecord) => {
        collect.push(r);
        return Promise.resolve({ kind: 'processed' as const });
      },
    });

    it('acknowledges each request with its base offset, in order per partition', async () => {
      const t = await topic('acks', 2);
      const p = await producer();
      const first = await p.send({ topic: t, partition: 0, records: [text('a'), text('b')] });
      expect(first).toEqual({ topic: t, partition: 0, baseOffset: '0' });
      const acks = await p.sendBatch([
        { topic: t, partition: 0, records: [text('c')] },
        { topic: t, partition: 1, records: [text('x'), text('y')] },
        { topic: t, partition: 0, records: [text('d'), text('e')] },
      ]);
      expect(acks.map((a) => `${a.partition}@${a.baseOffset}`)).toEqual(['0@2', '1@0', '0@3']);
      expect(await admin.fetchTopicOffsets(t)).toEqual([
        { partition: 0, low: '0', high: '5' },
        { partition: 1, low: '0', high: '2' },
      ]);
      const got: ConsumedRecord[] = [];
      await consume(t, processed(got));
      await waitFor('7 records', () => got.length === 7);
      const p0 = got.filter((r) => r.partition === 0);
      expect(p0.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4']);
      expect(values(p0)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(values(got.filter((r) => r.partition === 1))).toEqual(['x', 'y']);
    });

    it('maps a key to one partition (the default partitioner) and spreads null keys', async () => {
      const t = await topic('keys', 3);
      const p = await producer();
      const partitions = await p.partitions(t);
      expect(partitions.map((x) => x.partition)).toEqual([0, 1, 2]);
      const reference = new DefaultPartitioner();
      for (const k of ['order-1', 'order-2', 'customer-77', '']) {
        const key = Buffer.from(k);
        const chosen = await p.partitionFor(t, key);
        expect(chosen).toBe(reference.partition(t, key, partitions));
        expect(await p.partitionFor(t, key)).toBe(chosen);
      }
      const spread = new Set<number>();
      for (let i = 0; i < 6; i++) spread.add(await p.partitionFor(t, null));
      expect(spread).toEqual(new Set([0, 1, 2]));
    });

    it('delivers keys, values, headers (repeated keys, empty values), null keys and tombstones byte-exact', async () => {
      const t = await topic('bytes');
      const p = await producer();
      const headers = [
        { key: 'sp-a', value: Buffer.from([1, 2, 3]) },
        { key: 'sp-b', value: Buffer.alloc(0) },
        { key: 'sp-a', value: Buffer.from('second') },
      ];
      await p.send({
        topic: t,
        partition: 0,
        records: [
          { key: Buffer.from([0, 255, 7]), value: Buffer.from([0xff, 0x00]), headers },
          { key: null, value: Buffer.from('no key') },
          { key: Buffer.from('gone'), value: null },
          { key: Buffer.alloc(0), value: Buffer.alloc(0), timestampMs: 1_700_000_000_123 },
        ],
      });
      const got: ConsumedRecord[] = [];
      await consume(t, processed(got));
      await waitFor('4 records', () => got.length === 4);
      const [keyed, unkeyed, tomb, empty] = got;
      expect([keyed!.key, keyed!.value]).toEqual([
        Buffer.from([0, 255, 7]),
        Buffer.from([0xff, 0x00]),
      ]);
      // The port keeps the order among headers sharing a key; across keys the kafkajs adapter groups
      // a repeated key's values together, so the contract compares the values per key.
      expect(byKey(keyed!.headers)).toEqual(byKey(headers));
      expect(keyed!.headers).toHaveLength(headers.length);
      expect([unkeyed!.key, unkeyed!.value?.toString(), unkeyed!.headers]).toEqual([
        null,
        'no key',
        [],
      ]);
      expect([tomb!.key?.toString(), tomb!.value]).toEqual(['gone', null]);
      expect([empty!.key, empty!.value, empty!.timestampMs]).toEqual([
        Buffer.alloc(0),
        Buffer.alloc(0),
        1_700_000_000_123,
      ]);
      expect(got.every((r) => r.topic === t && r.partition === 0)).toBe(true);
    });

    it('commits with metadata that the admin reads back; a new member starts at the commit', async () => {
      const t = await topic('commit', 2);
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['a', 'b', 'c'].map(text) });
      const groupId = `contract-commit-${hex()}`;
      const before = await admin.fetchCommittedOffsets(groupId, [t]);
      expect(before.map((o) => [o.partition, o.offset])).toEqual([
        [0, '-1'],
        [1, '-1'],
      ]);
      // No commit, no metadata (a broker may answer an empty string).
      expect(before.every((o) => o.metadata === null || o.metadata === '')).toBe(true);
      const metadata = JSON.stringify({ gen: 7, hash: 'ab'.repeat(16) });
      let committed = false;
      let first: TransportConsumer | undefined;
      await consume(
        t,
        {
          eachBatch: async (batch, control) => {
            const second = batch.records[1];
            if (second === undefined || committed) return;
            control.resolveOffset(second.offset);
            await first!.commitOffsets([
              { topic: t, partition: 0, offset: String(BigInt(second.offset) + 1n), metadata },
            ]);
            committed = true;
          },
        },
        { groupId, before: (c) => (first = c) },
      );
      await waitFor('the commit', () => committed);
      expect(await admin.fetchCommittedOffsets(groupId, [t])).toEqual([
        { topic: t, partition: 0, offset: '2', metadata },
        expect.objectContaining({ topic: t, partition: 1, offset: '-1' }),
      ]);
      await first!.disconnect();
      const got: ConsumedRecord[] = [];
      const next = await consume(t, processed(got), { groupId });
      await waitFor('c', () => got.length >= 1);
      expect(values(got)).toEqual(['c']);
      // A commit without metadata stores none.
      await next.commitOffsets([{ topic: t, partition: 0, offset: '3', metadata: null }]);
      const [after] = await admin.fetchCommittedOffsets(groupId, [t]);
      expect(after!.offset).toBe('3');
      expect(after!.metadata === null || after!.metadata === '').toBe(true);
    });

    it('deletes a group without members, with its committed offsets; one with members is kept', async () => {
      const t = await topic('delete-group');
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['a', 'b'].map(text) });
      const groupId = `contract-delete-${hex()}`;
      const got: ConsumedRecord[] = [];
      const member = await consume(t, processed(got), { groupId });
      await waitFor('a and b', () => got.length >= 2);
      await member.commitOffsets([{ topic: t, partition: 0, offset: '2', metadata: null }]);
      expect((await admin.fetchCommittedOffsets(groupId, [t]))[0]!.offset).toBe('2');
      await expect(admin.deleteGroups([groupId])).rejects.toMatchObject({
        code: 'TRANSPORT_FAILED',
      });
      expect((await admin.fetchCommittedOffsets(groupId, [t]))[0]!.offset).toBe('2');
      await member.disconnect();
      await admin.deleteGroups([groupId]);
      expect((await admin.fetchCommittedOffsets(groupId, [t]))[0]!.offset).toBe('-1');
    });

    it('fetches records that were not resolved again, from the first unresolved one', async () => {
      const t = await topic('resolve');
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['r0', 'r1', 'r2'].map(text) });
      const fetched: string[][] = [];
      await consume(t, {
        eachBatch: (batch, control) => {
          fetched.push(batch.records.map((r) => `${r.offset}:${r.value!.toString()}`));
          // First time: resolve only the first record and return.
          if (fetched.length === 1) control.resolveOffset(batch.records[0]!.offset);
          else for (const r of batch.records) control.resolveOffset(r.offset);
          return Promise.resolve();
        },
      });
      await waitFor('the refetch', () => fetched.length >= 2);
      expect(fetched[0]).toEqual(['0:r0', '1:r1', '2:r2']);
      expect(fetched[1]).toEqual(['1:r1', '2:r2']);
    });

    it('a retry outcome redelivers the same record after the delay, then the rest in order', async () => {
      const t = await topic('retry');
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['r0', 'r1', 'r2'].map(text) });
      const seen: string[] = [];
      let retried = false;
      await consume(t, {
        eachMessage: (r) => {
          const v = r.value!.toString();
          seen.push(v);
          if (v === 'r1' && !retried) {
            retried = true;
            return Promise.resolve({ kind: 'retry', retryAfterMs: 50 });
          }
          return Promise.resolve({ kind: 'processed' });
        },
      });
      await waitFor('r2', () => seen.includes('r2'));
      expect(seen).toEqual(['r0', 'r1', 'r1', 'r2']);
    });

    it('a throwing handler is reported, the partition backs off and the record comes again', async () => {
      const t = await topic('throw');
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['boom', 'ok'].map(text) });
      const seen: string[] = [];
      const reported: TopicPartition[] = [];
      let throws = 2;
      await consume(t, {
        eachMessage: (r) => {
          seen.push(r.value!.toString());
          if (r.value!.toString() === 'boom' && throws-- > 0)
            return Promise.reject(new Error('handler failed'));
          return Promise.resolve({ kind: 'processed' });
        },
        onHandlerError: (_err, at) => reported.push(at),
      });
      await waitFor('ok', () => seen.includes('ok'));
      expect(seen).toEqual(['boom', 'boom', 'boom', 'ok']);
      expect(reported).toEqual([
        { topic: t, partition: 0 },
        { topic: t, partition: 0 },
      ]);
    });

    it('an assignment listener pauses before the first fetch; resume and pause take effect', async () => {
      const t = await topic('pause', 2);
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: [text('p0-a')] });
      const assignments: string[][] = [];
      const got: ConsumedRecord[] = [];
      const c = await consume(t, processed(got), {
        before: (c) =>
          c.onAssignment((as) => {
            assignments.push(as.map((a) => `${a.topic}:${a.partition}`).sort());
            c.pause([{ topic: t, partition: 0 }]);
          }),
      });
      await waitFor('the assignment', () => assignments.length > 0);
      expect(assignments[0]).toEqual([`${t}:0`, `${t}:1`]);
      expect(c.paused()).toEqual([{ topic: t, partition: 0 }]);
      // Partition 1 flows: the same fetch loop skipped the paused partition 0.
      await p.send({ topic: t, partition: 1, records: [text('p1-a')] });
      await waitFor('p1-a', () => got.length >= 1);
      expect(values(got)).toEqual(['p1-a']);
      c.resume([{ topic: t, partition: 0 }]);
      expect(c.paused()).toEqual([]);
      await waitFor('p0-a', () => got.length >= 2);
      expect(values(got)).toEqual(['p1-a', 'p0-a']);
      // A pause with a delay resumes by itself.
      c.pause([{ topic: t, partition: 0 }], { resumeAfterMs: 100 });
      await p.send({ topic: t, partition: 0, records: [text('p0-b')] });
      await waitFor('p0-b after the timed resume', () => got.length >= 3);
      expect(values(got)).toEqual(['p1-a', 'p0-a', 'p0-b']);
    });

    it('seek makes the partition re-read from an earlier offset', async () => {
      const t = await topic('seek');
      const p = await producer();
      await p.send({ topic: t, partition: 0, records: ['x', 'y'].map(text) });
      const got: ConsumedRecord[] = [];
      const c = await consume(t, processed(got));
      await waitFor('2 records', () => got.length === 2);
      c.seek({ topic: t, partition: 0 }, '1');
      await waitFor('the re-read', () => got.length === 3);
      expect(got.map((r) => `${r.offset}:${r.value!.toString()}`)).toEqual(['0:x', '1:y', '1:y']);
    });

    it('splits the partitions when a second member joins; both are told', async () => {
      const t = await topic('join', 2);
      const p = await producer();
      const groupId = `contract-join-${hex()}`;
      const assignments: Record<'a' | 'b', number[][]> = { a: [], b: [] };
      const rebalancing: Record<'a' | 'b', number> = { a: 0, b: 0 };
      const got: ConsumedRecord[] = [];
      const member = (name: 'a' | 'b') =>
        consume(t, processed(got), {
          groupId,
          before: (c) => {
            c.onAssignment((as) => assignments[name].push(as.map((a) => a.partition).sort()));
            c.onRebalancing(() => rebalancing[name]++);
          },
        });
      await member('a');
      await waitFor('a assigned', () => assignments.a.length > 0);
      expect(assignments.a[0]).toEqual([0, 1]);
      await member('b');
      await waitFor(
        'the split',
        () => assignments.b.at(-1)?.length === 1 && assignments.a.at(-1)?.length === 1,
      );
      expect([...assignments.a.at(-1)!, ...assignments.b.at(-1)!].sort()).toEqual([0, 1]);
      expect(rebalancing.a).toBeGreaterThan(0);
      // Both members consume their own partition.
      await p.sendBatch(
        [0, 1].map((partition) => ({ topic: t, partition, records: [text(`v${partition}`)] })),
      );
      await waitFor('both records', () => got.length === 2);
      expect(values(got).sort()).toEqual(['v0', 'v1']);
    });

    it('a commit during a rebalance fails as REBALANCE_IN_PROGRESS until the member has rejoined', async () => {
      // What the library relies on: a commit racing a rebalance either fails with a retriable
      // REBALANCE_IN_PROGRESS or succeeds — never another error — and succeeds once the member has
      // adopted the new generation. (Whether a given commit hits the window is timing: not asserted.)
      const t = await topic('stale', 2);
      const groupId = `contract-stale-${hex()}`;
      const a = await consume(t, processed([]), { groupId });
      let rejoined = 0;
      a.onAssignment(() => rejoined++);
      await consume(t, processed([]), { groupId });
      const outcomes: string[] = [];
      await waitFor('a commit after the rejoin', async () => {
        const outcome = await a
          .commitOffsets([{ topic: t, partition: 0, offset: '0', metadata: null }])
          .then(
            () => 'ok',
            (err: unknown) => (err as { code?: string }).code ?? 'unknown',
          );
        outcomes.push(outcome);
        return outcome === 'ok' && rejoined > 0;
      });
      expect(outcomes.filter((o) => o !== 'ok' && o !== 'REBALANCE_IN_PROGRESS')).toEqual([]);
      expect((await admin.fetchCommittedOffsets(groupId, [t]))[0]!.offset).toBe('0');
    });

    it('refuses a record, or a batch of records that each fit, beyond max.message.bytes (RECORD_TOO_LARGE); nothing of it is appended', async () => {
      const t = `test-contract-large-${hex()}`;
      expect(
        await admin.createTopics([
          {
            topic: t,
            numPartitions: 1,
            replicationFactor: 1,
            configs: { 'max.message.bytes': '20000' },
          },
        ]),
      ).toBe(true);
      topics.push(t);
      const p = subject.client().producer({ compression: 'none' });
      await p.connect();
      cleanup.push(() => p.disconnect());
      // Random bytes: what a broker measures is the batch as sent (uncompressed here).
      const bytes = (n: number) => ({ key: null, value: randomBytes(n) });
      const refusal = async (records: { key: null; value: Buffer }[]) =>
        p.send({ topic: t, partition: 0, records }).then(
          () => 'acknowledged',
          (err: unknown) => (err as { code?: unknown }).code,
        );
      expect(await refusal([bytes(30_000)])).toBe('RECORD_TOO_LARGE');
      // Each record fits on its own (two fifths of the limit); the batch of three does not.
      expect(await refusal([bytes(8_000), bytes(8_000), bytes(8_000)])).toBe('RECORD_TOO_LARGE');
      // The broker appended nothing of either: the next record is the partition's first.
      expect(await p.send({ topic: t, partition: 0, records: [bytes(15_000)] })).toEqual({
        topic: t,
        partition: 0,
        baseOffset: '0',
      });
      expect(await admin.fetchTopicOffsets(t)).toEqual([{ partition: 0, low: '0', high: '1' }]);
      // Compressed, the broker measures the batch as sent: the same three sizes of zeros fit.
      const gzip = subject.client().producer({ compression: 'gzip' });
      await gzip.connect();
      cleanup.push(() => gzip.disconnect());
      const zeros = [8_000, 8_000, 8_000].map((n) => ({ key: null, value: Buffer.alloc(n) }));
      expect(await gzip.send({ topic: t, partition: 0, records: zeros })).toEqual({
        topic: t,
        partition: 0,
        baseOffset: '1',
      });
    });

    it('creates, lists, describes and deletes topics; typed errors for bad calls', async () => {
      const t = `test-contract-admin-${hex()}`;
      const spec = { topic: t, numPartitions: 2, replicationFactor: 1, compacted: true };
      expect(await admin.createTopics([{ ...spec, configs: { 'retention.ms': '3600000' } }])).toBe(
        true,
      );
      topics.push(t);
      expect(await admin.createTopics([spec])).toBe(false);
      expect(await admin.listTopics()).toContain(t);
      const config = await admin.describeTopicConfig(t);
      expect([config['cleanup.policy'], config['retention.ms']]).toEqual(['compact', '3600000']);
      const [described] = await admin.describeTopics([t]);
      expect(described!.topic).toBe(t);
      expect(described!.partitions.map((x) => x.partition)).toEqual([0, 1]);
      expect(described!.partitions.every((x) => x.leader >= 0 && x.isr.length > 0)).toBe(true);

      const p = await producer();
      await expect(
        p.send({ topic: `test-contract-missing-${hex()}`, partition: 0, records: [text('x')] }),
      ).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
      await expect(p.send({ topic: t, partition: -1, records: [text('x')] })).rejects.toMatchObject(
        { code: 'INVALID_ARGUMENT' },
      );
      const idle = consumer();
      await expect(
        idle.commitOffsets([{ topic: t, partition: 0, offset: '1', metadata: null }]),
      ).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
      let pauseError: unknown;
      try {
        idle.pause([{ topic: t, partition: 0 }]);
      } catch (err) {
        pauseError = err;
      }
      expect(pauseError).toMatchObject({ code: 'NOT_CONNECTED' });

      await admin.deleteTopics([t]);
      topics.splice(topics.indexOf(t), 1);
      // Deletion completes asynchronously on a real broker.
      await waitFor('the topic to go', async () => !(await admin.listTopics()).includes(t));
    });
  });
}
