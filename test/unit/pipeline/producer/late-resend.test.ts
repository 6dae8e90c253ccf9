/**
 * Which requests of a pending batch `resend` seals again (src/pipeline/producer/late-resend.ts). A
 * send split by size leaves a partition's records in several requests of one stream: when the earlier
 * one fell more than half a replay window (docs/SPEC.md §6) behind, the later one is sealed again with
 * it, so the resealed records (sent after the kept ones) never land behind a kept later record.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../../src/crypto/provider.js';
import { REPLAY_WINDOW_BITS } from '../../../../src/envelope/replay-window.js';
import { SequenceCounter } from '../../../../src/envelope/sequence-counter.js';
import { splitLateRequests } from '../../../../src/pipeline/producer/late-resend.js';
import type {
  PendingSource,
  SealedBatch,
} from '../../../../src/pipeline/producer/producer-types.js';

let crypto: CryptoProvider;
beforeAll(async () => {
  crypto = await createCryptoProvider();
});

const STREAM = new Uint8Array(16).fill(7);
const OTHER_STREAM = new Uint8Array(16).fill(9);

/** A request per entry: its partition, the seqs of its records and the stream they were sealed in. */
function pendingOf(requests: readonly { partition: number; seqs: number[]; stream: Uint8Array }[]) {
  const pending: SealedBatch = {
    requests: requests.map((r) => ({
      topic: 't',
      partition: r.partition,
      records: r.seqs.map(() => ({ key: null, value: Buffer.alloc(1) })),
    })),
    messages: requests.map((r) =>
      r.seqs.map((seq) => ({
        index: seq,
        topic: 't',
        partition: r.partition,
        messageId: '00'.repeat(16),
        createdAtMs: 0,
        seq,
      })),
    ),
  };
  const source: PendingSource = {
    topic: 't',
    contentType: 'x',
    schemaFp: new Uint8Array(16),
    schemaId: undefined,
    payloads: [],
    requestStreams: requests.map((r) => r.stream),
    requestEvents: requests.map(() => []),
  };
  return { pending, source };
}

/** The topic's stream after `n` seqs were taken on partition 0 and 10 on partition 1. */
function streamAt(n: number): SequenceCounter {
  const s = new SequenceCounter(STREAM);
  for (let i = 0; i < n; i++) s.next(0);
  for (let i = 0; i < 10; i++) s.next(1);
  return s;
}

describe('splitLateRequests', () => {
  it("reseals every request of a partition's stream when one of them is behind", () => {
    const half = REPLAY_WINDOW_BITS / 2;
    const { pending, source } = pendingOf([
      { partition: 0, seqs: [0, 1, 2], stream: STREAM },
      { partition: 1, seqs: [0, 1], stream: STREAM },
      // Within half a window of the next seq on its own, but after a request that is behind.
      { partition: 0, seqs: [half, half + 1], stream: STREAM },
      { partition: 0, seqs: [3], stream: OTHER_STREAM },
    ]);
    expect(splitLateRequests(crypto, pending, source, streamAt(half + 10))).toEqual({
      keep: [1, 3],
      reseal: [0, 2],
    });
  });

  it('keeps everything within half a window, or when the topic has no stream now', () => {
    const { pending, source } = pendingOf([
      { partition: 0, seqs: [0, 1], stream: STREAM },
      { partition: 0, seqs: [2, 3], stream: STREAM },
    ]);
    expect(splitLateRequests(crypto, pending, source, streamAt(10))).toEqual({
      keep: [0, 1],
      reseal: [],
    });
    expect(splitLateRequests(crypto, pending, source, undefined)).toEqual({
      keep: [0, 1],
      reseal: [],
    });
  });
});
