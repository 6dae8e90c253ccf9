/**
 * The split of a sealed batch into produce requests under a byte bound (src/pipeline/producer/
 * request-chunks.ts), on batches built here: every record in exactly one chunk, in order per
 * partition, with its message, stream and `sealed` event beside it; each chunk under the bound unless
 * it is one record larger than the bound; and the join of the chunks left after a failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProduceRequest } from '../../../../src/kafka/transport.js';
import type { PipelineEvent } from '../../../../src/pipeline/metadata-sink.js';
import type {
  PendingSource,
  SealedBatch,
  SentMessage,
} from '../../../../src/pipeline/producer/producer-types.js';
import {
  estimatedRecordBytes,
  joinChunks,
  splitIntoChunks,
  type RequestChunk,
} from '../../../../src/pipeline/producer/request-chunks.js';

const TOPIC = 'chunks';

/** A batch of one request per partition; record i of the batch has a value of `sizes[i]` bytes. */
function batch(partitionOf: readonly number[], sizes: readonly number[]) {
  const byPartition = new Map<number, number[]>();
  partitionOf.forEach((p, i) => byPartition.set(p, [...(byPartition.get(p) ?? []), i]));
  const requests: ProduceRequest[] = [];
  const messages: Omit<SentMessage, 'offset'>[][] = [];
  const events: PipelineEvent[][] = [];
  const streams: Uint8Array[] = [];
  for (const [partition, indices] of byPartition) {
    requests.push({
      topic: TOPIC,
      partition,
      records: indices.map((i) => ({
        key: Buffer.from(`k${i}`),
        value: Buffer.alloc(sizes[i]!, i % 251),
        headers: [{ key: 'h', value: Buffer.from(`v${i}`) }],
      })),
    });
    messages.push(
      indices.map((i, n) => ({
        index: i,
        topic: TOPIC,
        partition,
        messageId: i.toString(16).padStart(32, '0'),
        createdAtMs: 1,
        seq: n,
      })),
    );
    events.push(
      indices.map((i) => ({
        type: 'sealed',
        messageId: i.toString(16).padStart(32, '0'),
        recipients: ['r'],
        topic: TOPIC,
        partition,
        ciphertextDigest: '00',
        sizeBytes: sizes[i]!,
      })),
    );
    streams.push(new Uint8Array(16).fill(partition));
  }
  const pending: SealedBatch = { requests, messages };
  const source: PendingSource = {
    topic: TOPIC,
    contentType: 'application/test',
    schemaFp: new Uint8Array(16),
    schemaId: undefined,
    payloads: [],
    requestStreams: streams,
    requestEvents: events,
  };
  return { pending, source };
}

/** Per chunk request: (partition, record key, message index, event id, stream byte) per record. */
function flatten(chunks: readonly RequestChunk[]) {
  return chunks.flatMap((c) =>
    c.pending.requests.flatMap((r, i) =>
      r.records.map((rec, j) => ({
        partition: r.partition,
        key: rec.key!.toString(),
        index: c.pending.messages[i]![j]!.index,
        messageId: c.pending.messages[i]![j]!.messageId,
        eventId: (c.source!.requestEvents[i]![j] as { messageId: string }).messageId,
        stream: c.source!.requestStreams[i]![0],
      })),
    ),
  );
}

const chunkBytes = (c: RequestChunk): number =>
  c.pending.requests.reduce(
    (n, r) => n + r.records.reduce((m, rec) => m + estimatedRecordBytes(rec), 0),
    0,
  );

describe('splitIntoChunks', () => {
  it('leaves a batch that fits as it is (the same objects)', () => {
    const { pending, source } = batch([0, 1, 0], [100, 100, 100]);
    const chunks = splitIntoChunks(pending, source, 64 * 1024);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.pending).toBe(pending);
    expect(chunks[0]!.source).toBe(source);
  });

  it('keeps every record once, in order per partition, with its message, event and stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5000 })), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.integer({ min: 1024, max: 20_000 }),
        (records, maxBytes) => {
          const { pending, source } = batch(
            records.map(([p]) => p),
            records.map(([, s]) => s),
          );
          const chunks = splitIntoChunks(pending, source, maxBytes);
          const flat = flatten(chunks);
          // Every record once, each beside its own message, event and stream.
          expect(flat.map((x) => x.index).sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
          for (const x of flat) {
            expect(x.key).toBe(`k${x.index}`);
            expect(x.eventId).toBe(x.messageId);
            expect(x.stream).toBe(x.partition);
            expect(x.partition).toBe(records[x.index]![0]);
          }
          // In the order of the batch on each partition (the order they will be written in).
          for (let p = 0; p <= 3; p++) {
            const order = flat.filter((x) => x.partition === p).map((x) => x.index);
            expect(order).toEqual([...order].sort((a, b) => a - b));
          }
          // Under the bound, unless one record alone is larger.
          for (const c of chunks) {
            const count = c.pending.requests.reduce((n, r) => n + r.records.length, 0);
            expect(count).toBeGreaterThan(0);
            if (count > 1) expect(chunkBytes(c)).toBeLessThanOrEqual(maxBytes);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('sends a record larger than the bound alone, between the chunks around it', () => {
    const { pending, source } = batch([0, 0, 0, 0], [600, 600, 5000, 600]);
    const chunks = splitIntoChunks(pending, source, 2048);
    expect(chunks.map((c) => c.pending.messages.flat().map((m) => m.index))).toEqual([
      [0, 1],
      [2],
      [3],
    ]);
  });

  it('splits without a source (a batch from another producer)', () => {
    const { pending } = batch([0, 1, 0, 1], [900, 900, 900, 900]);
    const chunks = splitIntoChunks(pending, undefined, 2048);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.source === undefined)).toBe(true);
    expect(chunks.flatMap((c) => c.pending.messages.flat().map((m) => m.index)).sort()).toEqual([
      0, 1, 2, 3,
    ]);
  });
});

describe('joinChunks', () => {
  it('joins the chunks left in sending order and carries the acknowledged results', () => {
    const { pending, source } = batch([0, 1, 0, 1, 0, 1], [900, 900, 900, 900, 900, 900]);
    const chunks = splitIntoChunks(pending, source, 2048);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const acknowledged: SentMessage[] = chunks[0]!.pending.messages
      .flat()
      .map((m, i) => ({ ...m, offset: String(i) }));
    const rest = joinChunks(chunks.slice(1), acknowledged);
    expect(rest.pending.acknowledged).toEqual(acknowledged);
    expect(flatten([rest])).toEqual(flatten(chunks.slice(1)));
    expect(rest.source!.requestStreams).toHaveLength(rest.pending.requests.length);
    expect(rest.source!.requestEvents).toHaveLength(rest.pending.requests.length);
    // Nothing acknowledged: no `acknowledged` field at all.
    expect('acknowledged' in joinChunks(chunks, []).pending).toBe(false);
  });
});
