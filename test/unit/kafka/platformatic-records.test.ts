/**
 * The record conversions of the @platformatic/kafka adapter (src/kafka/platformatic-records.ts) and
 * the timestamp runs its producer sends separately (docs/TRANSPORTS.md: the client's varint64 encoder
 * is right only for timestamp deltas within ±2^31 ms of a batch's first record).
 */
import type { RecordsBatch } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { timestampRuns } from '../../../src/kafka/platformatic-producer.js';
import {
  fromPlatformaticBatches,
  toPlatformaticHeaders,
} from '../../../src/kafka/platformatic-records.js';

const NOW = 1_796_000_000_000;
const rec = (timestampMs?: number) => ({
  key: null,
  value: Buffer.from('v'),
  ...(timestampMs === undefined ? {} : { timestampMs }),
});

describe('timestampRuns', () => {
  it('keeps records together while their timestamps lie within 2^30 ms of the run start', () => {
    const close = [rec(), rec(NOW - 1000), rec(NOW + 2 ** 29)];
    expect(timestampRuns(close, NOW)).toEqual([close]);
  });

  it('starts a new run, in order, when a timestamp lies 2^30 ms or more away', () => {
    const old = rec(1_700_000_000_123);
    const runs = timestampRuns([rec(), rec(), old, rec(1_700_000_000_999), rec()], NOW);
    expect(runs.map((r) => r.map((x) => x.timestampMs ?? 'now'))).toEqual([
      ['now', 'now'],
      [1_700_000_000_123, 1_700_000_000_999],
      ['now'],
    ]);
  });
});

describe('toPlatformaticHeaders', () => {
  it('keeps a repeated key as separate entries, in order (one key object per header)', () => {
    const headers = toPlatformaticHeaders([
      { key: 'a', value: Buffer.from('1') },
      { key: 'b', value: Buffer.alloc(0) },
      { key: 'a', value: Buffer.from('2') },
    ])!;
    expect([...headers].map(([k, v]) => [k.toString(), v.toString()])).toEqual([
      ['a', '1'],
      ['b', ''],
      ['a', '2'],
    ]);
    expect(toPlatformaticHeaders([])).toBeUndefined();
  });
});

describe('fromPlatformaticBatches', () => {
  const batch = (firstOffset: bigint, records: number, attributes = 0): RecordsBatch => ({
    firstOffset,
    length: 0,
    partitionLeaderEpoch: 0,
    magic: 2,
    crc: 0,
    attributes,
    lastOffsetDelta: records - 1,
    firstTimestamp: 1000n,
    maxTimestamp: 5000n,
    producerId: -1n,
    producerEpoch: -1,
    firstSequence: -1,
    records: Array.from({ length: records }, (_, i) => ({
      length: 0,
      attributes: 0,
      timestampDelta: BigInt(i),
      offsetDelta: i,
      key: i === 0 ? null : Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      headers: [[Buffer.from('h'), null]] as [Buffer | null, Buffer | null][],
    })),
  });

  it('hands out the data records at or after the fetch offset; moves past control batches', () => {
    const { records, next } = fromPlatformaticBatches(
      't',
      3,
      [batch(10n, 3), batch(13n, 1, 0b10_0000), batch(14n, 2)],
      11n,
    );
    expect(records.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString()])).toEqual([
      ['11', 'k1', 'v1'],
      ['12', 'k2', 'v2'],
      ['14', null, 'v0'],
      ['15', 'k1', 'v1'],
    ]);
    expect(next).toBe(16n);
    expect(records[0]).toMatchObject({ topic: 't', partition: 3, timestampMs: 1001 });
    expect(records[0]!.headers).toEqual([{ key: 'h', value: null }]);
  });

  it('uses the batch time for a LogAppendTime batch', () => {
    const { records } = fromPlatformaticBatches('t', 0, [batch(0n, 2, 0b1000)], 0n);
    expect(records.map((r) => r.timestampMs)).toEqual([5000, 5000]);
  });
});
