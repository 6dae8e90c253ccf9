/**
 * Gets a sealed batch acknowledged: split into produce requests under `maxRequestBytes`
 * (request-chunks.ts), sent one after another — each once the previous one was acknowledged, so a
 * partition's records keep their order — the exact sealed bytes of each retried on retriable broker
 * errors with a doubling delay; results in the order of the messages given; `sealed` events only for
 * what was acknowledged. On failure, SEND_FAILED carries what was not acknowledged (and the results of
 * what was), and what a later `resend` needs to seal it again is kept here (keyed by the batch,
 * dropped with it), never in the error.
 */
import type { ProduceAck, TransportProducer } from '../../kafka/transport.js';
import { isTransportError } from '../../kafka/transport-error.js';
import type { SealpostTracing } from '../../observability/tracing.js';
import type { MetadataSink } from '../metadata-sink.js';
import { describeError } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { ProducerSettings } from './producer-settings.js';
import type { PendingSource, SealedBatch, SentMessage } from './producer-types.js';
import { joinChunks, splitIntoChunks, type RequestChunk } from './request-chunks.js';
import { SendFailedError } from './send-failed-error.js';
import { SendLanes } from './send-lanes.js';

export interface BatchDeliveryOptions {
  readonly producer: TransportProducer;
  readonly settings: ProducerSettings;
  readonly metrics?: PipelineMetrics;
  readonly events?: MetadataSink;
  /** The transport call runs detached from the trace context (docs/TRACING.md). */
  readonly tracing: SealpostTracing;
  /** The order of the deliveries per topic (default: this delivery's own). */
  readonly lanes?: SendLanes;
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

const byIndex = (a: SentMessage, b: SentMessage): number => a.index - b.index;

export class BatchDelivery {
  readonly #o: BatchDeliveryOptions;
  readonly #lanes: SendLanes;
  readonly #sources = new WeakMap<SealedBatch, PendingSource>();

  constructor(options: BatchDeliveryOptions) {
    this.#o = options;
    this.#lanes = options.lanes ?? new SendLanes();
  }

  /** What `resend` needs for a batch this producer failed to deliver, if it is one. */
  sourceOf(pending: SealedBatch): PendingSource | undefined {
    return this.#sources.get(pending);
  }

  /**
   * Sends `pending` (call it right after sealing: its turn among the topic's deliveries is taken
   * synchronously, see send-lanes.ts). Resolves with the results of every message of the batch,
   * `pending.acknowledged` included, in message order.
   */
  deliver(pending: SealedBatch, source: PendingSource | undefined): Promise<SentMessage[]> {
    const chunks = splitIntoChunks(pending, source, this.#o.settings.maxRequestBytes);
    const turn = this.#lanes.enter(pending.requests[0]?.topic ?? '', chunks.length > 1);
    return this.#deliverChunks(pending, chunks, turn.ready).finally(() => turn.release());
  }

  async #deliverChunks(
    pending: SealedBatch,
    chunks: readonly RequestChunk[],
    ready: Promise<unknown> | undefined,
  ): Promise<SentMessage[]> {
    if (ready !== undefined) await ready;
    const before = pending.acknowledged ?? [];
    if (chunks.length === 1 && before.length === 0) {
      const only = chunks[0]!;
      try {
        return await this.#deliverChunk(only);
      } catch (err) {
        throw this.#failed(only, err);
      }
    }
    const sent: SentMessage[] = [...before];
    for (let k = 0; k < chunks.length; k++) {
      try {
        sent.push(...(await this.#deliverChunk(chunks[k]!)));
      } catch (err) {
        // What was acknowledged is reported as sent; this chunk and the ones never tried are pending.
        throw this.#failed(joinChunks(chunks.slice(k), sent.sort(byIndex)), err);
      }
    }
    return sent.sort(byIndex);
  }

  #failed(rest: RequestChunk, cause: unknown): SendFailedError {
    if (rest.source !== undefined) this.#sources.set(rest.pending, rest.source);
    return new SendFailedError(rest.pending, cause);
  }

  /** One produce request, retried; throws the last error once it gives up. */
  async #deliverChunk({ pending, source }: RequestChunk): Promise<SentMessage[]> {
    const { settings, metrics, events } = this.#o;
    let delay = settings.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
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
        const retriable =
          typeof err === 'object' &&
          err !== null &&
          (err as { retriable?: unknown }).retriable === true;
        settings.logger.warn(
          { err: describeError(err), attempt },
          'sealed records not acknowledged',
        );
        // A transport that already retried the send for as long as its own timeouts allow says so
        // (TransportError.exhausted): another attempt here would repeat that whole wait
        // (docs/TRANSPORTS.md "Under faults"), so the failure goes to the application now.
        if (!retriable || attempt >= settings.maxSendAttempts || exhaustedSend(err)) throw err;
        await sleep(delay);
        delay = Math.min(delay * 2, settings.maxRetryDelayMs);
      }
    }
  }
}

function exhaustedSend(err: unknown): boolean {
  return isTransportError(err) && err.exhausted;
}
