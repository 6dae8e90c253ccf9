/**
 * Gets a sealed batch acknowledged: the exact sealed bytes, retried on retriable broker errors with a
 * doubling delay; results in the order of the messages given; `sealed` events only for what was
 * acknowledged. On failure, SEND_FAILED carries the batch, and what a later `resend` needs to seal it
 * again is kept here (keyed by the batch, dropped with it), never in the error.
 */
import type { ProduceAck, TransportProducer } from '../../kafka/transport.js';
import type { SealpostTracing } from '../../observability/tracing.js';
import type { MetadataSink } from '../metadata-sink.js';
import { describeError } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { ProducerSettings } from './producer-settings.js';
import type { PendingSource, SealedBatch, SentMessage } from './producer-types.js';
import { SendFailedError } from './send-failed-error.js';

export interface BatchDeliveryOptions {
  readonly producer: TransportProducer;
  readonly settings: ProducerSettings;
  readonly metrics?: PipelineMetrics;
  readonly events?: MetadataSink;
  /** The transport call runs detached from the trace context (docs/TRACING.md). */
  readonly tracing: SealpostTracing;
}

/**
 * The acknowledged messages with their offsets (the base offset of their request plus their place in
 * it), in the order of the messages given: requests are grouped by partition, and the caller pairs
 * result i with message i (sorted only when the grouping changed the order). Offsets within 2^53 are
 * counted as numbers (no BigInt per message).
 */
function withOffsets(pending: SealedBatch, acks: readonly ProduceAck[]): SentMessage[] {
  const out: SentMessage[] = [];
  let ordered = true;
  acks.forEach((ack, i) => {
    const group = pending.messages[i] ?? [];
    const base = Number(ack.baseOffset);
    const exact = Number.isSafeInteger(base + group.length);
    const bigBase = exact ? 0n : BigInt(ack.baseOffset);
    for (let j = 0; j < group.length; j++) {
      const m = group[j]!;
      if (out.length > 0 && m.index < out[out.length - 1]!.index) ordered = false;
      out.push({
        index: m.index,
        topic: m.topic,
        partition: m.partition,
        offset: exact ? String(base + j) : (bigBase + BigInt(j)).toString(),
        messageId: m.messageId,
        createdAtMs: m.createdAtMs,
        seq: m.seq,
      });
    }
  });
  return ordered ? out : out.sort((a, b) => a.index - b.index);
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class BatchDelivery {
  readonly #o: BatchDeliveryOptions;
  readonly #sources = new WeakMap<SealedBatch, PendingSource>();

  constructor(options: BatchDeliveryOptions) {
    this.#o = options;
  }

  /** What `resend` needs for a batch this producer failed to deliver, if it is one. */
  sourceOf(pending: SealedBatch): PendingSource | undefined {
    return this.#sources.get(pending);
  }

  async deliver(pending: SealedBatch, source: PendingSource | undefined): Promise<SentMessage[]> {
    const { settings, metrics, events } = this.#o;
    let delay = settings.retryDelayMs;
    let lastError: unknown;
    for (let attempt = 1; attempt <= settings.maxSendAttempts; attempt++) {
      try {
        // Outside any trace context: a Kafka client instrumentation must not put the application's
        // trace id or baggage into clear headers (docs/TRACING.md).
        const acks = await this.#o.tracing.detached(() =>
          this.#o.producer.sendBatch(pending.requests),
        );
        const out = withOffsets(pending, acks);
        for (const r of pending.requests) metrics?.sealed.inc({ topic: r.topic }, r.records.length);
        // `sealed` events only for what the broker acknowledged (never for a send that failed).
        if (events !== undefined && source !== undefined)
          for (const group of source.requestEvents) for (const e of group) events.emit(e);
        return out;
      } catch (err) {
        lastError = err;
        const retriable =
          typeof err === 'object' &&
          err !== null &&
          (err as { retriable?: unknown }).retriable === true;
        settings.logger.warn(
          { err: describeError(err), attempt },
          'sealed records not acknowledged',
        );
        if (!retriable || attempt === settings.maxSendAttempts) break;
        await sleep(delay);
        delay = Math.min(delay * 2, settings.maxRetryDelayMs);
      }
    }
    if (source !== undefined) this.#sources.set(pending, source);
    throw new SendFailedError(pending, lastError);
  }
}
