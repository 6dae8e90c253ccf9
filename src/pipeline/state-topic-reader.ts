/**
 * Reads the replay-state topic from its start to the high watermarks taken when the read begins — the
 * one way both the replay-state store (docs/SPEC.md §6) and the KMS rewrap of its key records read it.
 * The Transport port has no manual assignment, so a throwaway consumer group reads the topic.
 */
import type { ConsumedRecord, Transport } from '../kafka/transport.js';
import { PipelineError } from './pipeline-error.js';

/** Options of {@link readStateTopicToEnd}. */
export interface StateTopicReadOptions {
  readonly transport: Transport;
  readonly topic: string;
  /** A group of its own for this one read. */
  readonly groupId: string;
  /** Longest wait to reach the high watermarks; then REPLAY_STATE_MISSING (retriable). */
  readonly timeoutMs: number;
  /** Called for every record, in partition order. */
  readonly onRecord: (partition: number, record: ConsumedRecord) => void;
}

/** See the module comment. An empty topic is read without starting a consumer. */
export async function readStateTopicToEnd(o: StateTopicReadOptions): Promise<void> {
  const admin = o.transport.admin();
  await admin.connect();
  let offsets;
  try {
    offsets = await admin.fetchTopicOffsets(o.topic);
  } finally {
    await admin.disconnect();
  }
  const remaining = new Map<number, bigint>();
  for (const p of offsets)
    if (BigInt(p.high) > BigInt(p.low)) remaining.set(p.partition, BigInt(p.high));
  if (remaining.size === 0) return;
  const consumer = o.transport.consumer({ groupId: o.groupId });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachBatch: (batch, control) => {
        for (const r of batch.records) {
          o.onRecord(batch.partition, r);
          control.resolveOffset(r.offset);
          const high = remaining.get(batch.partition);
          if (high !== undefined && BigInt(r.offset) + 1n >= high)
            remaining.delete(batch.partition);
        }
        if (remaining.size === 0) done();
        return Promise.resolve();
      },
    });
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), o.timeoutMs);
    });
    const r = await Promise.race([finished.then(() => 'ok' as const), timedOut]);
    if (r === 'timeout')
      throw new PipelineError(
        'REPLAY_STATE_MISSING',
        `timed out reading the replay state topic ${o.topic}`,
        { retriable: true },
      );
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
