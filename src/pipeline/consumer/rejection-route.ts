/**
 * Where a record goes (docs/API.md "What happens to each record", "Records committed without a
 * hand-out", "Dead letters"): a permanent failure is dead-lettered (within the dead-letter breaker's
 * budget; the offset moves only once the write is acknowledged), a transient one pauses and retries,
 * an error no module classified is retried and dead-lettered on its fifth failure, and a record
 * skipped by design (tombstone, exact duplicate, not addressed to us) is counted and reported.
 * Payload-stage errors (registry, Avro) are mapped to one of these in one place.
 */
import { envelopeSuiteOf } from '../envelope-suite.js';
import type { CoarseClass } from '../../events/dead-letter.js';
import type { ConsumedRecord } from '../../kafka/transport.js';
import { AvroDecodeError, AvroSchemaError } from '../../registry/avro-errors.js';
import { RegistryError } from '../../registry/registry-error.js';
import type { DeadLetterBreaker } from '../dead-letter-breaker.js';
import type { DeadLetterWriter } from '../dead-letter-writer.js';
import type { MetadataSink } from '../metadata-sink.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';

/** Why a record is committed past without a hand-out or a dead letter (by design, docs/API.md). */
export type SkipReason = 'TOMBSTONE' | 'DUPLICATE' | 'NOT_ADDRESSED';

/** A wait whose length is known exactly (a token budget refills): no exponential backoff. */
export type TokenWait = 'admission' | 'dead-letter-breaker';

/**
 * What became of one record. `delivered`, `dead-lettered` and `skipped` are decided (the offset may
 * move past the record); `retry` (a transient failure, backed off) and `pause` (a token wait, known
 * exactly) hold the partition at the same record.
 */
export type RecordOutcome =
  | { readonly kind: 'delivered' }
  | { readonly kind: 'dead-lettered'; readonly coarse: CoarseClass; readonly code: string }
  | { readonly kind: 'skipped'; readonly reason: SkipReason }
  | { readonly kind: 'retry'; readonly afterMs: number; readonly reason: string }
  | { readonly kind: 'pause'; readonly afterMs: number; readonly reason: TokenWait };

export const DELIVERED: RecordOutcome = { kind: 'delivered' };

/** Whether the record is decided (the offset may move past it). */
export function isDecided(outcome: RecordOutcome): boolean {
  return outcome.kind !== 'retry' && outcome.kind !== 'pause';
}

/** What a failure while fetching the writer schema or decoding the payload means for the record. */
export type PayloadVerdict =
  | { readonly action: 'dead-letter'; readonly coarse: CoarseClass; readonly detail: string }
  /** Ours to fix (registry unreachable, refusing or misbehaving): pause and retry, never dead-letter. */
  | { readonly action: 'retry'; readonly reason: string; readonly refusing: boolean }
  | { readonly action: 'unexpected' };

/** Only an unknown schema id, an unusable schema or a payload that does not decode is the record's fault. */
export function routePayloadError(err: unknown): PayloadVerdict {
  if (err instanceof RegistryError) {
    if (err.code === 'SCHEMA_NOT_FOUND')
      return { action: 'dead-letter', coarse: 'SCHEMA', detail: 'SCHEMA_MISMATCH' };
    return err.retriable
      ? { action: 'retry', reason: 'registry-unavailable', refusing: false }
      : { action: 'retry', reason: 'registry-error', refusing: true };
  }
  if (err instanceof AvroSchemaError)
    return { action: 'dead-letter', coarse: 'SCHEMA', detail: 'SCHEMA_MISMATCH' };
  if (err instanceof AvroDecodeError)
    return { action: 'dead-letter', coarse: 'PAYLOAD', detail: 'PAYLOAD_INVALID' };
  return { action: 'unexpected' };
}

export interface RejectionRouteOptions {
  readonly breaker: DeadLetterBreaker;
  /** The dead-letter writer (made when the consumer runs). */
  readonly writer: () => DeadLetterWriter;
  readonly groupId: string;
  readonly logger: PipelineLogger;
  readonly metrics?: PipelineMetrics;
  readonly events?: MetadataSink;
}

/** Unclassified failures of one record before it is dead-lettered. */
const UNEXPECTED_LIMIT = 5;

/** See the module comment. */
export class RejectionRoute {
  readonly #o: RejectionRouteOptions;

  constructor(options: RejectionRouteOptions) {
    this.#o = options;
  }

  /** A permanent failure: dead-letter the original record; the offset moves only once that is acknowledged. */
  async deadLetter(
    record: ConsumedRecord,
    coarse: CoarseClass,
    detail: string,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    if (o.breaker.governs(coarse)) {
      // Budget spent: neither written nor committed past; the partition waits and the record is
      // dead-lettered later at the allowed rate (nothing lost, no dead-letter flood).
      const verdict = o.breaker.take(record.topic, record.partition);
      if (verdict !== 'allowed') {
        o.metrics?.deadLetterThrottled.inc({ scope: verdict });
        return {
          kind: 'pause',
          afterMs: o.breaker.waitMs(record.topic, record.partition),
          reason: 'dead-letter-breaker',
        };
      }
    }
    try {
      await o.writer().write(record, coarse, detail, 1);
    } catch (err) {
      return this.transient(err, 'dead-letter-write');
    }
    o.metrics?.rejected.inc({ class: coarse, code: detail });
    o.metrics?.deadLettered.inc({ class: coarse });
    o.logger.info(
      { topic: record.topic, partition: record.partition, offset: record.offset, class: coarse },
      'record dead-lettered',
    );
    const base = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      group: o.groupId,
      reason: coarse,
      ...(envelopeSuiteOf(record.value) === 2 ? { suite: 2 } : {}),
    };
    o.events?.emit({ type: 'rejected', ...base, detail });
    o.events?.emit({ type: 'dead_lettered', ...base });
    return { kind: 'dead-lettered', coarse, code: detail };
  }

  /** A record committed past by design: counted (and reported, where an event exists for it). */
  skip(record: ConsumedRecord, reason: SkipReason): RecordOutcome {
    const o = this.#o;
    switch (reason) {
      case 'TOMBSTONE':
        // An unauthenticated tombstone: reported, never acted on.
        o.metrics?.rejected.inc({ class: 'MALFORMED', code: 'TOMBSTONE' });
        o.events?.emit({
          type: 'skipped',
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          reason: 'TOMBSTONE',
          group: o.groupId,
        });
        break;
      case 'DUPLICATE':
        o.metrics?.duplicates.inc({ topic: record.topic });
        o.events?.emit({
          type: 'duplicate',
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          group: o.groupId,
        });
        break;
      case 'NOT_ADDRESSED':
        o.metrics?.skippedNotAddressed.inc({ topic: record.topic });
        break;
    }
    return { kind: 'skipped', reason };
  }

  /**
   * An error no module classified (a bug, not the record's fault as far as we know): retried like a
   * transient failure, but a record that fails this way 5 times is dead-lettered (class MALFORMED,
   * detail UNEXPECTED_ERROR) so one record can never stall its partition. `counts` is the
   * partition's bounded count of such failures per offset.
   */
  async unexpected(
    record: ConsumedRecord,
    counts: Map<string, number>,
    err: unknown,
    where: string,
  ): Promise<RecordOutcome> {
    const n = (counts.get(record.offset) ?? 0) + 1;
    if (n < UNEXPECTED_LIMIT) {
      counts.set(record.offset, n);
      if (counts.size > 1000) counts.delete(counts.keys().next().value as string);
      return this.transient(err, where);
    }
    this.#o.logger.error(
      {
        err: describeError(err),
        where,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
      },
      'unexpected error; dead-lettering',
    );
    const outcome = await this.deadLetter(record, 'MALFORMED', 'UNEXPECTED_ERROR');
    if (outcome.kind === 'dead-lettered') counts.delete(record.offset);
    return outcome;
  }

  /** A transient failure: pause the partition and retry the record. */
  transient(err: unknown, where: string): RecordOutcome {
    this.#o.logger.warn({ err: describeError(err), where }, 'transient failure');
    return { kind: 'retry', afterMs: 500, reason: where };
  }
}
