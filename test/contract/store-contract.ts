/**
 * The store ports' contract (src/audit/audit-store.ts, src/dlq/quarantine-store.ts), as one vitest
 * suite every implementation runs: SQLite (test/unit/stores/sqlite-stores-contract.test.ts) and
 * PostgreSQL on a real server (test/integration/stores-postgres.test.ts). Besides the behaviour the
 * workers and the CLI rely on (order, idempotency keys, filters, release and purge, paging), it runs
 * several store instances over the same storage writing the same entries at once — the invariant,
 * checked from the store afterwards: every entry stored exactly once, the audit chain valid, and the
 * writers' own counts of what they stored summing to the number of distinct entries.
 */
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/audit/audit-checkpoint.js';
import type { AuditLogStores } from '../../src/audit/audit-log-stores.js';
import type { AuditStore } from '../../src/audit/audit-store.js';
import { verifyAuditLog } from '../../src/audit/verify-audit-log.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import type { NewQuarantineEntry, QuarantineStore } from '../../src/dlq/quarantine-store.js';
import type { MetadataEvent } from '../../src/events/metadata-event.js';

/** One storage location (a file, a database schema); each `open` is another instance over it. */
export interface StorageUnderTest<S> {
  open(): Promise<S>;
}

export interface StoresUnderTest {
  readonly name: string;
  crypto(): CryptoProvider;
  /** A fresh, empty audit storage. */
  auditStorage(): Promise<StorageUnderTest<AuditStore>>;
  /** A fresh, empty storage of per-partition audit logs (docs/AUDIT.md). */
  auditLogStorage(): Promise<StorageUnderTest<AuditLogStores>>;
  /** A fresh, empty quarantine storage. */
  quarantineStorage(): Promise<StorageUnderTest<QuarantineStore>>;
}

const ev = (n: number, extra: Partial<MetadataEvent> = {}): MetadataEvent => ({
  eventId: n.toString(16).padStart(32, '0'),
  type: 'opened',
  timeMs: 1_700_000_000_000 + n,
  actor: 'billing',
  sender: n % 2 === 0 ? 'orders' : 'refunds',
  topic: n % 3 === 0 ? 'payments' : 'orders',
  messageId: `m${n}`,
  partition: 0,
  offset: String(n),
  ...extra,
});

const entry = (n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
  dlqTopic: 'sealpost.dead-letter',
  dlqPartition: n % 3,
  dlqOffset: String(n),
  reason: n % 2 === 0 ? 'MESSAGE' : 'STALE',
  sourceTopic: 'orders',
  sourcePartition: n % 3,
  sourceOffset: String(100 + n),
  sourceTimestamp: '1700000000000',
  consumerGroup: 'billing',
  consumer: 'billing',
  attempt: 1,
  key: new Uint8Array([1, 2, n & 255]),
  value: new Uint8Array([0, 0, 0, 0, 7, n & 255, 0xff]),
  headers: [{ key: 'trace', value: Buffer.from('abc').toString('base64') }],
  valueHash: 'ab'.repeat(32),
  signatureVerified: true,
  arrivedAtMs: 1_700_000_000_000 + n * 1000,
  ...over,
});

/** `items` cut into batches of 1..`max` (deterministic per `seed`), in order. */
function batches<T>(items: readonly T[], seed: number, max: number): T[][] {
  const out: T[][] = [];
  let s = seed;
  for (let i = 0; i < items.length;) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const n = 1 + (s % max);
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

export function storeContract(subject: StoresUnderTest): void {
  describe(`AuditStore contract: ${subject.name}`, () => {
    it('appends in order, skips redelivered events, and another instance sees the same log', async () => {
      const storage = await subject.auditStorage();
      const store = await storage.open();
      expect(await store.append([ev(0), ev(1), ev(2)])).toBe(3);
      expect(await store.append([ev(2), ev(3), ev(3)])).toBe(1);
      const head = await store.head();
      expect(head.count).toBe(4);
      await store.close();
      const again = await storage.open();
      const reopened = await again.head();
      expect(reopened.count).toBe(4);
      expect(Buffer.from(reopened.headHash).equals(Buffer.from(head.headHash))).toBe(true);
      expect(await again.append([ev(1)])).toBe(0);
      expect((await collect(again.entries())).map((e) => e.index)).toEqual([0, 1, 2, 3]);
      await again.close();
    });

    it('refuses a batch with an invalid event as a whole, appending none', async () => {
      const store = await (await subject.auditStorage()).open();
      const bad = { ...ev(1), payload: 'secret' } as unknown as MetadataEvent;
      await expect(store.append([ev(0), bad])).rejects.toMatchObject({
        code: 'AUDIT_EVENT_INVALID',
      });
      expect((await store.head()).count).toBe(0);
      await store.close();
    });

    it('queries by message id, sender, topic, type, time range and index', async () => {
      const store = await (await subject.auditStorage()).open();
      await store.append(Array.from({ length: 30 }, (_, i) => ev(i)));
      expect((await store.query({ messageId: 'm7' })).map((r) => r.index)).toEqual([7]);
      expect(await store.query({ sender: 'orders' })).toHaveLength(15);
      expect(
        (await store.query({ topic: 'payments', sender: 'orders' })).map((r) => r.event.eventId),
      ).toEqual([0, 6, 12, 18, 24].map((n) => n.toString(16).padStart(32, '0')));
      expect(
        await store.query({ fromMs: 1_700_000_000_010, toMs: 1_700_000_000_012 }),
      ).toHaveLength(3);
      expect((await store.query({ afterIndex: 27 })).map((r) => r.index)).toEqual([28, 29]);
      expect(await store.query({ type: 'sealed' })).toEqual([]);
      expect(await store.query({ limit: 5 })).toHaveLength(5);
      await store.close();
    });

    it('reads a log longer than a page in order, from any index, and it verifies', async () => {
      const crypto = subject.crypto();
      const store = await (await subject.auditStorage()).open();
      const n = 2_345;
      for (const b of batches(
        Array.from({ length: n }, (_, i) => ev(i)),
        7,
        400,
      ))
        await store.append(b);
      const all = await collect(store.entries());
      expect(all.map((e) => e.index)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect((await collect(store.entries(1_234)))[0]!.index).toBe(1_234);
      expect(await collect(store.entries(1_234))).toHaveLength(n - 1_234);
      const keys = crypto.signKeyPair();
      const kid = new Uint8Array(16).fill(3);
      const head = await store.head();
      await store.addCheckpoint(
        signCheckpoint(crypto, head.count, head.headHash, 5, kid, keys.secretKey),
      );
      const checkpoints = await store.checkpoints();
      expect(checkpoints.map((c) => [c.count, c.timeMs])).toEqual([[n, 5]]);
      const report = await verifyAuditLog(
        crypto,
        store.entries(),
        checkpoints,
        keys.publicKey,
        kid,
      );
      expect(report).toMatchObject({ ok: true, count: n, checkpointsVerified: 1 });
      await store.close();
    });

    it('several writers appending the same events at once store each exactly once, in one valid chain', async () => {
      const crypto = subject.crypto();
      const storage = await subject.auditStorage();
      const writers = await Promise.all([1, 2, 3, 4].map(() => storage.open()));
      const events = Array.from({ length: 400 }, (_, i) => ev(i));
      // Each writer delivers every event (as redelivery after a rebalance would), in its own batches.
      const appended = await Promise.all(
        writers.map(async (w, i) => {
          let total = 0;
          for (const b of batches(events, i + 1, 60)) total += await w.append(b);
          return total;
        }),
      );
      expect(appended.reduce((a, b) => a + b, 0)).toBe(events.length);
      const reader = await storage.open();
      const stored = await collect(reader.entries());
      expect(stored).toHaveLength(events.length);
      const ids = stored.map((e) => e.columns!.event_id);
      expect(new Set(ids).size).toBe(events.length);
      expect(new Set(ids)).toEqual(new Set(events.map((e) => e.eventId)));
      const keys = crypto.signKeyPair();
      const kid = new Uint8Array(16).fill(4);
      const head = await reader.head();
      const report = await verifyAuditLog(
        crypto,
        reader.entries(),
        [signCheckpoint(crypto, head.count, head.headHash, 1, kid, keys.secretKey)],
        keys.publicKey,
        kid,
      );
      expect(report).toMatchObject({ ok: true, count: events.length });
      await Promise.all([...writers, reader].map((w) => w.close()));
    });
  });

  describe(`AuditLogStores contract: ${subject.name}`, () => {
    const of = { cluster: 'kafka', topic: 'sealpost.metadata' };

    it('keeps each partition its own log: chain, eventIds, checkpoints and queries; another instance sees them', async () => {
      const crypto = subject.crypto();
      const storage = await subject.auditLogStorage();
      const stores = await storage.open();
      expect(await stores.partitions(of)).toEqual([]);
      expect(await stores.openSingle()).toBeUndefined();
      const p0 = await stores.open({ ...of, partition: 0 });
      const p3 = await stores.open({ ...of, partition: 3 });
      // The same events in two logs (eventIds are unique per log): each log stores them.
      expect(await p0.append([ev(0), ev(1), ev(2)])).toBe(3);
      expect(await p3.append([ev(1), ev(5)])).toBe(2);
      expect(await p3.append([ev(5), ev(6)])).toBe(1);
      expect((await p0.head()).count).toBe(3);
      expect((await p3.head()).count).toBe(3);
      const keys = crypto.signKeyPair();
      const kid = new Uint8Array(16).fill(5);
      const h0 = await p0.head();
      await p0.addCheckpoint(signCheckpoint(crypto, h0.count, h0.headHash, 7, kid, keys.secretKey));
      expect(await p3.checkpoints()).toEqual([]);
      expect((await p3.query({ messageId: 'm1' })).map((e) => e.index)).toEqual([0]);
      expect((await p3.query({ limit: 10 })).map((e) => e.event.eventId)).toEqual(
        [ev(1), ev(5), ev(6)].map((e) => e.eventId),
      );
      await Promise.all([p0.close(), p3.close()]);
      await stores.close();

      const again = await storage.open();
      expect(await again.partitions(of)).toEqual([0, 3]);
      for (const partition of [0, 3]) {
        const log = await again.open({ ...of, partition });
        const checkpoints = await log.checkpoints();
        expect(checkpoints).toHaveLength(partition === 0 ? 1 : 0);
        const head = await log.head();
        const report = await verifyAuditLog(
          crypto,
          log.entries(),
          [
            ...checkpoints,
            signCheckpoint(crypto, head.count, head.headHash, 8, kid, keys.secretKey),
          ],
          keys.publicKey,
          kid,
        );
        expect(report).toMatchObject({ ok: true, count: 3 });
        await log.close();
      }
      await again.close();
    });

    it('several writers on each of several logs at once store each event once per log, each log one valid chain', async () => {
      const crypto = subject.crypto();
      const storage = await subject.auditLogStorage();
      // Three members (each its own AuditLogStores, as three processes), each writing logs 0..2.
      const members = await Promise.all([1, 2, 3].map(() => storage.open()));
      const events = Array.from({ length: 300 }, (_, i) => ev(i));
      const eventsOf = (partition: number) => events.filter((_, i) => i % 3 === partition);
      const appended = await Promise.all(
        members.flatMap((m, mi) =>
          [0, 1, 2].map(async (partition) => {
            const log = await m.open({ ...of, partition });
            let total = 0;
            for (const b of batches(eventsOf(partition), mi * 3 + partition + 1, 25))
              total += await log.append(b);
            // Every member also delivers another partition's first events (a stale owner's batch).
            total += await log.append(eventsOf((partition + 1) % 3).slice(0, 5));
            await log.close();
            return { partition, total };
          }),
        ),
      );
      const reader = await storage.open();
      expect(await reader.partitions(of)).toEqual([0, 1, 2]);
      const keys = crypto.signKeyPair();
      const kid = new Uint8Array(16).fill(6);
      for (const partition of [0, 1, 2]) {
        const log = await reader.open({ ...of, partition });
        const stored = await collect(log.entries());
        const expected = new Set([
          ...eventsOf(partition).map((e) => e.eventId),
          ...eventsOf((partition + 1) % 3)
            .slice(0, 5)
            .map((e) => e.eventId),
        ]);
        const ids = stored.map((e) => e.columns!.event_id);
        expect(ids).toHaveLength(expected.size);
        expect(new Set(ids)).toEqual(expected);
        // The writers' own counts of what they stored in this log add up to it.
        expect(
          appended.filter((a) => a.partition === partition).reduce((n, a) => n + a.total, 0),
        ).toBe(expected.size);
        const head = await log.head();
        const report = await verifyAuditLog(
          crypto,
          log.entries(),
          [signCheckpoint(crypto, head.count, head.headHash, 1, kid, keys.secretKey)],
          keys.publicKey,
          kid,
        );
        expect(report).toMatchObject({ ok: true, count: expected.size });
        await log.close();
      }
      await Promise.all([...members, reader].map((m) => m.close()));
    });
  });

  describe(`QuarantineStore contract: ${subject.name}`, () => {
    it('stores byte-exact records once per dead-letter and per source coordinates and group', async () => {
      const storage = await subject.quarantineStorage();
      const store = await storage.open();
      expect(await store.add([entry(0), entry(1), entry(2)])).toBe(3);
      // same dead-letter coordinates again (redelivery)
      expect(await store.add([entry(1)])).toBe(0);
      // same source record and group written twice to the dead-letter topic
      expect(await store.add([entry(2, { dlqOffset: '99' })])).toBe(0);
      // same source record dead-lettered by another group is a separate entry
      expect(await store.add([entry(2, { dlqOffset: '98', consumerGroup: 'shipping' })])).toBe(1);
      await store.close();
      const again = await storage.open();
      const e = (await again.list({}))[1]!;
      expect(Array.from(e.value!)).toEqual([0, 0, 0, 0, 7, 1, 0xff]);
      expect(Array.from(e.key!)).toEqual([1, 2, 1]);
      expect(e.headers).toEqual([{ key: 'trace', value: 'YWJj' }]);
      expect(e).toMatchObject({
        dlqPartition: 1,
        dlqOffset: '1',
        reason: 'STALE',
        sourceOffset: '101',
        signatureVerified: true,
        arrivedAtMs: 1_700_000_001_000,
        status: 'quarantined',
        releasedAtMs: null,
        requarantinedFrom: null,
      });
      expect(await again.list({})).toHaveLength(4);
      await again.close();
    });

    it('keeps garbage without source coordinates, each once', async () => {
      const store = await (await subject.quarantineStorage()).open();
      const garbage = entry(5, {
        reason: 'unrecognised',
        sourceTopic: null,
        sourcePartition: null,
        sourceOffset: null,
        consumerGroup: null,
        key: null,
      });
      expect(await store.add([garbage, garbage, entry(6, { ...garbage, dlqOffset: '6' })])).toBe(2);
      expect(await store.countsByReason()).toEqual({ unrecognised: 2 });
      expect((await store.list({}))[0]!.key).toBeNull();
      await store.close();
    });

    it('filters by reason, topic, status and age; release is idempotent; purge deletes', async () => {
      const store = await (await subject.quarantineStorage()).open();
      await store.add(
        Array.from({ length: 10 }, (_, i) => entry(i, i === 9 ? { sourceTopic: 'refunds' } : {})),
      );
      expect(await store.list({ reason: 'MESSAGE' })).toHaveLength(5);
      expect((await store.list({ sourceTopic: 'refunds' })).map((e) => e.dlqOffset)).toEqual(['9']);
      expect(await store.list({ arrivedBeforeMs: 1_700_000_000_000 + 3000 })).toHaveLength(3);
      const first = (await store.list({}))[0]!.id;
      expect((await store.list({ afterId: first, limit: 2 })).map((e) => e.id)).toEqual(
        (await store.list({})).slice(1, 3).map((e) => e.id),
      );
      expect(await store.markReleased(first, 'orders', 5)).toBe(true);
      expect(await store.markReleased(first, 'orders', 6)).toBe(false);
      expect(await store.get(first)).toMatchObject({
        status: 'released',
        releasedAtMs: 5,
        releasedTo: 'orders',
      });
      expect(await store.list({ status: 'released' })).toHaveLength(1);
      expect(await store.get(first)).toMatchObject({ releasedBy: null });
      expect(await store.countsByReason()).toEqual({ MESSAGE: 4, STALE: 5 });
      expect(await store.oldestArrivalMs()).toBe(1_700_000_000_000 + 1000);
      const second = (await store.list({ status: 'quarantined' }))[0]!.id;
      expect(await store.purge([first, second, 12345])).toBe(2);
      expect(await store.get(first)).toBeUndefined();
      expect(await store.list({})).toHaveLength(8);
      expect(await store.totals()).toEqual({ released: 1, purged: 2 });
      await store.close();
    });

    it('filters by source partition, records who released, counts arrivals by reason per bucket', async () => {
      const store = await (await subject.quarantineStorage()).open();
      await store.add(Array.from({ length: 9 }, (_, i) => entry(i)));
      expect((await store.list({ sourcePartition: 1 })).map((e) => e.dlqOffset)).toEqual([
        '1',
        '4',
        '7',
      ]);
      expect(
        (await store.list({ sourceTopic: 'orders', sourcePartition: 2, reason: 'STALE' })).map(
          (e) => e.dlqOffset,
        ),
      ).toEqual(['5']);
      const [one] = await store.list({ limit: 1 });
      expect(await store.markReleased(one!.id, 'orders', 7, 'alice')).toBe(true);
      expect(await store.get(one!.id)).toMatchObject({ releasedBy: 'alice', releasedTo: 'orders' });
      // Arrivals 1_700_000_000_000 + n s; from n = 2 on, in 3 s buckets (released entries count too).
      expect(await store.arrivalsByReason({ fromMs: 1_700_000_002_000, bucketMs: 3000 })).toEqual([
        { bucket: 0, reason: 'MESSAGE', count: 2 },
        { bucket: 0, reason: 'STALE', count: 1 },
        { bucket: 1, reason: 'MESSAGE', count: 1 },
        { bucket: 1, reason: 'STALE', count: 2 },
        { bucket: 2, reason: 'MESSAGE', count: 1 },
      ]);
      await store.close();
    });

    it('links a record dead-lettered again after its release to the released entry', async () => {
      const store = await (await subject.quarantineStorage()).open();
      await store.add([entry(1, { valueHash: 'cd'.repeat(32) })]);
      const [released] = await store.list({});
      await store.markReleased(released!.id, 'orders', 10);
      await store.add([entry(2, { valueHash: 'cd'.repeat(32), sourceOffset: '900' })]);
      await store.add([entry(3, { valueHash: 'cd'.repeat(32), consumerGroup: 'shipping' })]);
      const [, back, other] = await store.list({});
      expect(back).toMatchObject({ attempt: 2, requarantinedFrom: released!.id });
      expect(other).toMatchObject({ attempt: 1, requarantinedFrom: null });
      await store.close();
    });

    it('several writers adding the same dead letters at once store each exactly once', async () => {
      const storage = await subject.quarantineStorage();
      const writers = await Promise.all([1, 2, 3, 4].map(() => storage.open()));
      const entries = Array.from({ length: 240 }, (_, i) => entry(i));
      const added = await Promise.all(
        writers.map(async (w, i) => {
          let total = 0;
          // Reversed for half the writers: batches overlap in opposite orders.
          const order = i % 2 === 0 ? entries : [...entries].reverse();
          for (const b of batches(order, i + 11, 40)) total += await w.add(b);
          return total;
        }),
      );
      expect(added.reduce((a, b) => a + b, 0)).toBe(entries.length);
      const reader = await storage.open();
      const stored = await reader.list({ limit: 100_000 });
      expect(stored).toHaveLength(entries.length);
      const coordinates = stored.map((e) => `${e.dlqPartition}/${e.dlqOffset}`);
      expect(new Set(coordinates).size).toBe(entries.length);
      expect(await reader.countsByReason()).toEqual({ MESSAGE: 120, STALE: 120 });
      await Promise.all([...writers, reader].map((w) => w.close()));
    });
  });
}
