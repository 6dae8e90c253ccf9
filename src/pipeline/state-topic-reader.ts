/**
 * Reads the replay-state topic (docs/SPEC.md §6) — the one way both the replay-state store and the
 * KMS rewrap of its key records read it. The Transport port has no manual assignment, so a throwaway
 * consumer group reads the topic: its member is assigned every partition, pauses those it does not
 * need and seeks the others.
 *
 * - {@link readStateTopicToEnd}: from the start to the high watermarks taken when the read begins,
 *   of every partition or of the given ones.
 * - {@link readStateRecordsAt}: exactly the records at given offsets (a state record a commit points
 *   to): the records between them, other groups' included, are skipped by seeking, not read.
 */
import type {
  BatchHandler,
  ConsumedRecord,
  Transport,
  TransportConsumer,
} from '../kafka/transport.js';
import { PipelineError } from './pipeline-error.js';

/** Options of {@link readStateTopicToEnd}. */
export interface StateTopicReadOptions {
  readonly transport: Transport;
  readonly topic: string;
  /** A group of its own for this one read. */
  readonly groupId: string;
  /** Longest wait to reach the high watermarks; then REPLAY_STATE_MISSING (retriable). */
  readonly timeoutMs: number;
  /** Only these partitions (default: all). */
  readonly partitions?: readonly number[];
  /** Called for every record, in partition order. */
  readonly onRecord: (partition: number, record: ConsumedRecord) => void;
}

/** How much a read read: the records handed to `onRecord` or examined for an offset. */
export interface StateTopicReadStats {
  readonly recordsRead: number;
}

/** See the module comment. An empty topic (or partition set) is read without starting a consumer. */
export async function readStateTopicToEnd(o: StateTopicReadOptions): Promise<StateTopicReadStats> {
  const offsets = await topicOffsets(o.transport, o.topic);
  const remaining = new Map<number, bigint>();
  for (const p of offsets)
    if (
      BigInt(p.high) > BigInt(p.low) &&
      (o.partitions === undefined || o.partitions.includes(p.partition))
    )
      remaining.set(p.partition, BigInt(p.high));
  let recordsRead = 0;
  if (remaining.size === 0) return { recordsRead };
  await withReader(o, [...remaining.keys()], (_consumer, done) => ({
    eachBatch: (batch, control) => {
      for (const r of batch.records) {
        const high = remaining.get(batch.partition);
        if (high === undefined) break;
        recordsRead++;
        o.onRecord(batch.partition, r);
        control.resolveOffset(r.offset);
        if (BigInt(r.offset) + 1n >= high) remaining.delete(batch.partition);
      }
      if (remaining.size === 0) done();
      return Promise.resolve();
    },
  }));
  return { recordsRead };
}

/** Options of {@link readStateRecordsAt}. */
export interface StateRecordsAtOptions {
  readonly transport: Transport;
  readonly topic: string;
  /** A group of its own for this one read. */
  readonly groupId: string;
  /** Longest wait; then REPLAY_STATE_MISSING (retriable). */
  readonly timeoutMs: number;
  /** The records wanted. */
  readonly at: readonly { readonly partition: number; readonly offset: bigint }[];
  /** Called for each wanted record found. */
  readonly onRecord: (partition: number, record: ConsumedRecord) => void;
}

/**
 * Reads the records at the given offsets (see the module comment). A wanted offset that no longer
 * holds a record (compacted away, or beyond the end) is returned in `missing`.
 */
export async function readStateRecordsAt(
  o: StateRecordsAtOptions,
): Promise<StateTopicReadStats & { missing: { partition: number; offset: bigint }[] }> {
  const offsets = await topicOffsets(o.transport, o.topic);
  const high = new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  const missing: { partition: number; offset: bigint }[] = [];
  // Wanted offsets per partition, ascending, each once.
  const wanted = new Map<number, bigint[]>();
  for (const { partition, offset } of o.at) {
    if (offset >= (high.get(partition) ?? 0n)) {
      missing.push({ partition, offset });
      continue;
    }
    const list = wanted.get(partition) ?? [];
    if (!list.includes(offset)) list.push(offset);
    wanted.set(partition, list);
  }
  for (const list of wanted.values()) list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let recordsRead = 0;
  if (wanted.size === 0) return { recordsRead, missing };
  await withReader(o, [...wanted.keys()], (consumer, done) => ({
    onAssigned: () => {
      for (const [partition, list] of wanted)
        consumer.seek({ topic: o.topic, partition }, list[0]!.toString());
    },
    eachBatch: (batch, control) => {
      const list = wanted.get(batch.partition);
      for (const r of batch.records) {
        if (list === undefined || list.length === 0 || control.isStale()) break;
        const offset = BigInt(r.offset);
        if (offset < list[0]!) continue; // before the seek took effect: not examined
        recordsRead++;
        // Offsets passed without their record were compacted away.
        while (list.length > 0 && list[0]! < offset)
          missing.push({ partition: batch.partition, offset: list.shift()! });
        if (list[0] === offset) {
          list.shift();
          o.onRecord(batch.partition, r);
        }
        control.resolveOffset(r.offset);
        const next = list[0];
        if (next === undefined) {
          control.pause();
          break;
        }
        // Skip to the next wanted record rather than read the ones between.
        if (next > offset + 1n) {
          consumer.seek({ topic: o.topic, partition: batch.partition }, next.toString());
          break;
        }
      }
      if ([...wanted.values()].every((l) => l.length === 0)) done();
      return Promise.resolve();
    },
  }));
  return { recordsRead, missing };
}

async function topicOffsets(
  transport: Transport,
  topic: string,
): Promise<{ partition: number; low: string; high: string }[]> {
  const admin = transport.admin();
  await admin.connect();
  try {
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs a throwaway consumer over `o.topic` with every partition but `partitions` paused, until the
 * handler calls `done` (or the timeout: REPLAY_STATE_MISSING, retriable).
 */
async function withReader(
  o: {
    readonly transport: Transport;
    readonly topic: string;
    readonly groupId: string;
    readonly timeoutMs: number;
  },
  partitions: readonly number[],
  handlers: (
    consumer: TransportConsumer,
    done: () => void,
  ) => {
    readonly onAssigned?: () => void;
    readonly eachBatch: BatchHandler;
  },
): Promise<void> {
  const consumer = o.transport.consumer({ groupId: o.groupId });
  await consumer.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const h = handlers(consumer, () => done());
    consumer.onAssignment((assignment) => {
      // Only the partitions needed are fetched at all.
      const others = assignment.filter(
        (a) => a.topic === o.topic && !partitions.includes(a.partition),
      );
      if (others.length > 0) consumer.pause(others);
      h.onAssigned?.();
    });
    await consumer.run({ eachBatch: h.eachBatch });
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
