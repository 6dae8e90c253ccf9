import { SealpostError, type ErrorCodeTable } from '../errors.js';
import type { TransportHeader, TransportProducer } from '../kafka/transport.js';
import type { QuarantineEntry, QuarantineStore } from './quarantine-store.js';
import type { ReleaseSigner } from './release-signer.js';

export const RELEASE_ERROR_CODES = {
  QUARANTINE_NOT_FOUND: 'no',
  QUARANTINE_NO_SOURCE: 'no',
  QUARANTINE_UNVERIFIED: 'no',
  /** The entry names no consumer group and none was given. */
  QUARANTINE_NO_GROUP: 'no',
  /** The directory does not grant the operator key `release` for the topic (docs/SPEC.md §11.1). */
  QUARANTINE_NOT_GRANTED: 'no',
} as const satisfies ErrorCodeTable;
export type ReleaseErrorCode = keyof typeof RELEASE_ERROR_CODES;

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
  /** The consumer group that may accept the release ('' for an unsigned re-publish without one). */
  readonly group: string;
}

/**
 * Publishes a quarantined record to its source topic and partition (the envelope binds both), or to
 * `to`, wrapped in a release (docs/SPEC.md §11) that `signer` signs for the entry's consumer group (or
 * `group`): the original key, headers and sealed bytes — never re-sealed, never decrypted — which that
 * group accepts once although its seq is behind the window or its session older than the horizon.
 * Then it marks the entry released. Release is idempotent: an entry already released is not
 * published again. Should the process die between the publish and the mark, a second release is
 * DUPLICATE at the consumer (the release id is computed from the record bytes), so the application
 * still sees it once.
 *
 * Entries whose dead-letter signature did not verify, and `unrecognised` entries, are refused unless
 * `force` (they may not come from a sealpost consumer at all).
 */
export async function releaseQuarantined(
  store: QuarantineStore,
  producer: TransportProducer,
  id: number,
  options: {
    /**
     * Signs the release. Without it the original bytes are re-published unchanged (for consumers that
     * predate docs/SPEC.md §11; such a record is STALE again if its cause was time).
     */
    readonly signer?: ReleaseSigner;
    readonly to?: string;
    readonly group?: string;
    readonly force?: boolean;
    readonly nowMs: number;
    /** Who asked for the release, recorded with the entry (the console's operator; docs/CONSOLE.md). */
    readonly releasedBy?: string;
  },
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
  const group = options.group ?? entry.consumerGroup ?? '';
  if (options.signer !== undefined && group === '') {
    throw new QuarantineReleaseError(
      'QUARANTINE_NO_GROUP',
      `entry ${id} names no consumer group; pass --group GROUP (the group that should accept it)`,
    );
  }
  const partition = await targetPartition(entry, topic, producer);
  if (entry.status === 'released') {
    return { id, outcome: 'already-released', topic: entry.releasedTo ?? topic, partition, group };
  }
  let value = entry.value === null ? null : Buffer.from(entry.value);
  if (options.signer !== undefined) {
    if (value === null)
      throw new QuarantineReleaseError(
        'QUARANTINE_UNVERIFIED',
        `entry ${id} has no value (a tombstone); there is nothing to release`,
      );
    value = Buffer.from(options.signer.sign(value, { topic, partition, group, entryId: id }));
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
        value,
        headers,
      },
    ],
  });
  await store.markReleased(id, topic, options.nowMs, options.releasedBy);
  return { id, outcome: 'released', topic, partition, group };
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
