/**
 * Gets a sealed batch acknowledged: the exact sealed bytes, retried on retriable broker errors with a
 * doubling delay; results in the order of the messages given; `sealed` events only for what was
 * acknowledged. On failure, SEND_FAILED carries the batch, and what a later `resend` needs to seal it
 * again is kept here (keyed by the batch, dropped with it), never in the error.
 */
import type { TransportProducer } from '../../kafka/transport.js';
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
        const out: SentMessage[] = [];
        acks.forEach((ack, i) => {
          const base = BigInt(ack.baseOffset);
          (pending.messages[i] ?? []).forEach((m, j) =>
            out.push({ ...m, offset: (base + BigInt(j)).toString() }),
          );
        });
        for (const r of pending.requests) metrics?.sealed.inc({ topic: r.topic }, r.records.length);
        // `sealed` events only for what the broker acknowledged (never for a send that failed).
        if (events !== undefined && source !== undefined)
          for (const group of source.requestEvents) for (const e of group) events.emit(e);
        // Requests are grouped by partition; the caller pairs result i with message i.
        return out.sort((a, b) => a.index - b.index);
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
