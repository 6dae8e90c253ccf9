import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import type { NewQuarantineEntry } from '../../../src/dlq/quarantine-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function open(): { store: SqliteQuarantineStore; path: string } {
  const d = mkdtempSync(join(tmpdir(), 'sealpost-dlq-'));
  dirs.push(d);
  const path = join(d, 'q.db');
  return { store: new SqliteQuarantineStore(path), path };
}

const entry = (n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
  dlqTopic: 'sealpost.dead-letter',
  dlqPartition: 0,
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

describe('SqliteQuarantineStore', () => {
  it('stores byte-exact records once per dead-letter and source coordinates', async () => {
    const { store, path } = open();
    expect(await store.add([entry(0), entry(1), entry(2)])).toBe(3);
    // same dead-letter coordinates again (redelivery)
    expect(await store.add([entry(1)])).toBe(0);
    // same source record and group written twice to the dead-letter topic
    expect(await store.add([entry(2, { dlqOffset: '99' })])).toBe(0);
    // same source record dead-lettered by another group is a separate entry
    expect(await store.add([entry(2, { dlqOffset: '98', consumerGroup: 'shipping' })])).toBe(1);
    await store.close();
    const again = new SqliteQuarantineStore(path);
    const e = (await again.list({}))[1]!;
    expect(Array.from(e.value!)).toEqual([0, 0, 0, 0, 7, 1, 0xff]);
    expect(Array.from(e.key!)).toEqual([1, 2, 1]);
    expect(e.headers).toEqual([{ key: 'trace', value: 'YWJj' }]);
    expect(await again.list({})).toHaveLength(4);
    await again.close();
  });

  it('keeps garbage without source coordinates, each once', async () => {
    const { store } = open();
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
    await store.close();
  });

  it('filters by reason, topic and age; release is idempotent; purge deletes', async () => {
    const { store } = open();
    await store.add(
      Array.from({ length: 10 }, (_, i) => entry(i, i === 9 ? { sourceTopic: 'refunds' } : {})),
    );
    expect(await store.list({ reason: 'MESSAGE' })).toHaveLength(5);
    expect((await store.list({ sourceTopic: 'refunds' })).map((e) => e.dlqOffset)).toEqual(['9']);
    expect(await store.list({ arrivedBeforeMs: 1_700_000_000_000 + 3000 })).toHaveLength(3);
    const id = (await store.list({}))[0]!.id;
    expect(await store.markReleased(id, 'orders', 5)).toBe(true);
    expect(await store.markReleased(id, 'orders', 6)).toBe(false);
    expect(await store.get(id)).toMatchObject({
      status: 'released',
      releasedAtMs: 5,
      releasedTo: 'orders',
    });
    expect(await store.countsByReason()).toEqual({ MESSAGE: 4, STALE: 5 });
    expect(await store.oldestArrivalMs()).toBe(1_700_000_000_000 + 1000);
    expect(await store.purge([id, 2, 12345])).toBe(2);
    expect(await store.get(id)).toBeUndefined();
    expect(await store.list({})).toHaveLength(8);
    expect(await store.totals()).toEqual({ released: 1, purged: 2 });
    await store.close();
  });
});
