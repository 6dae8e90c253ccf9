import { SealpostError } from '../errors.js';
import type { TransportHeader, TransportProducer } from '../kafka/transport.js';
import type { QuarantineEntry, QuarantineStore } from './quarantine-store.js';

export type ReleaseErrorCode =
  'QUARANTINE_NOT_FOUND' | 'QUARANTINE_NO_SOURCE' | 'QUARANTINE_UNVERIFIED';

export class QuarantineReleaseError extends SealpostError {
  declare readonly code: ReleaseErrorCode;
  constructor(code: ReleaseErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}

export interface ReleaseResult {
  readonly id: number;
  readonly outcome: 'released' | 'already-released';
  readonly topic: string;
  readonly partition: number;
}

/**
 * Re-publishes a quarantined record's original key, value bytes and headers — byte-identical, never
 * re-sealed — to its source topic and partition (the envelope binds both), or to `to`, then marks it
 * released. Release is idempotent: an entry already released is not published again. Should the
 * process die between the publish and the mark, a second release publishes the same bytes again;
 * the consumer's replay window then reports it DUPLICATE, so the application still sees it once.
 *
 * Entries whose dead-letter signature did not verify, and `unrecognised` entries, are refused unless
 * `force` (they may not come from a sealpost consumer at all).
 */
export async function releaseQuarantined(
  store: QuarantineStore,
  producer: TransportProducer,
  id: number,
  options: { readonly to?: string; readonly force?: boolean; readonly nowMs: number },
): Promise<ReleaseResult> {
  const entry = await store.get(id);
  if (!entry) throw new QuarantineReleaseError('QUARANTINE_NOT_FOUND', `no quarantine entry ${id}`);
  const topic = options.to ?? entry.sourceTopic;
  if (topic === null) {
    throw new QuarantineReleaseError(
      'QUARANTINE_NO_SOURCE',
      `entry ${id} has no source topic (reason ${entry.reason}); pass --to TOPIC to release it`,
    );
  }
  if (!options.force && (!entry.signatureVerified || entry.reason === 'unrecognised')) {
    throw new QuarantineReleaseError(
      'QUARANTINE_UNVERIFIED',
      `entry ${id} is not a verified sealpost dead letter; pass --force to release it anyway`,
    );
  }
  const partition = await targetPartition(entry, topic, producer);
  if (entry.status === 'released') {
    return { id, outcome: 'already-released', topic: entry.releasedTo ?? topic, partition };
  }
  const headers: TransportHeader[] = entry.headers.map((h) => ({
    key: h.key,
    value: h.value === null ? null : Buffer.from(h.value, 'base64'),
  }));
  await producer.send({
    topic,
    partition,
    records: [
      {
        key: entry.key === null ? null : Buffer.from(entry.key),
        value: entry.value === null ? null : Buffer.from(entry.value),
        headers,
      },
    ],
  });
  await store.markReleased(id, topic, options.nowMs);
  return { id, outcome: 'released', topic, partition };
}

async function targetPartition(
  entry: QuarantineEntry,
  topic: string,
  producer: TransportProducer,
): Promise<number> {
  const partitions = await producer.partitions(topic);
  if (
    entry.sourcePartition !== null &&
    partitions.some((p) => p.partition === entry.sourcePartition)
  ) {
    return entry.sourcePartition;
  }
  return producer.partitionFor(topic, entry.key === null ? null : Buffer.from(entry.key));
}
