/**
 * Batches metadata events and sends them sealed to the `audit` identity on the metadata topic.
 *
 * Payload encoding (content type {@link METADATA_EVENTS_CONTENT_TYPE}): a JSON array whose elements
 * are the canonical bytes of each event (src/events/metadata-event.ts canonicalEventBytes: fixed key
 * order, absent fields left out), i.e. `[` e1 `,` e2 … `]` in UTF-8. It is a raw payload (not Avro):
 * the audit worker runs a SealedConsumer with `rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE]`,
 * receives the bytes, and checks each element with validateMetadataEvent. Each event's detail travels
 * only inside the sealed payload.
 *
 * Delivery: at least once while the process lives (a failed send keeps the batch queued and retries);
 * events queued in memory are lost if the process dies, and beyond `maxQueued` the oldest are dropped
 * and counted (`dropped`). Events are never on the critical path of a send or a delivery.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { canonicalEventBytes, type MetadataEvent } from '../events/metadata-event.js';
import type { Clock } from '../runtime/clock.js';
import type { MetadataSink, PipelineEvent } from './metadata-sink.js';
import { describeError, silentLogger, type PipelineLogger } from './pipeline-logger.js';
import type { SealedProducer } from './sealed-producer.js';

/** Content type of a sealed metadata-event batch. */
export const METADATA_EVENTS_CONTENT_TYPE = 'application/vnd.sealpost.metadata-events+json';

/** Options of {@link MetadataEventEmitter}. */
export interface MetadataEventEmitterOptions {
  /** A producer of its own (built WITHOUT `events`, or events would loop). Connected by the caller. */
  readonly producer: SealedProducer;
  readonly topic: string;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The emitting identity (`actor` of every event). */
  readonly actor: string;
  /** Identities the batches are sealed to. Default ['audit']. */
  readonly recipients?: readonly string[];
  /** Events per sealed record. Default 500. */
  readonly maxBatch?: number;
  /** Flush at least this often. Default 1,000 ms. */
  readonly flushIntervalMs?: number;
  /** Queue bound. Default 100,000. */
  readonly maxQueued?: number;
  readonly logger?: PipelineLogger;
}

/** See the module comment. */
export class MetadataEventEmitter implements MetadataSink {
  readonly #o: MetadataEventEmitterOptions;
  readonly #logger: PipelineLogger;
  #queue: MetadataEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #dropped = 0;
  #sent = 0;
  #closed = false;

  constructor(options: MetadataEventEmitterOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#timer = setInterval(
      () => void this.flush().catch(() => undefined),
      options.flushIntervalMs ?? 1000,
    );
    this.#timer.unref();
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events sent and acknowledged. */
  get sent(): number {
    return this.#sent;
  }

  emit(event: PipelineEvent): void {
    if (this.#closed) return;
    const full: MetadataEvent = {
      ...event,
      eventId: Buffer.from(this.#o.crypto.randomBytes(16)).toString('hex'),
      timeMs: this.#o.clock.nowMs(),
      actor: this.#o.actor,
    };
    this.#queue.push(full);
    const max = this.#o.maxQueued ?? 100_000;
    if (this.#queue.length > max) {
      const excess = this.#queue.length - max;
      this.#queue.splice(0, excess);
      this.#dropped += excess;
    }
    if (this.#queue.length >= (this.#o.maxBatch ?? 500)) void this.flush().catch(() => undefined);
  }

  /** Sends everything queued (one sealed record per `maxBatch` events). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing
      .catch(() => undefined)
      .then(async () => {
        const maxBatch = this.#o.maxBatch ?? 500;
        while (this.#queue.length > 0) {
          const batch = this.#queue.slice(0, maxBatch);
          const parts = batch.map((e) => canonicalEventBytes(e));
          let size = 2 + Math.max(0, parts.length - 1);
          for (const p of parts) size += p.length;
          const payload = new Uint8Array(size);
          payload[0] = 0x5b; // [
          let o = 1;
          parts.forEach((p, i) => {
            if (i > 0) payload[o++] = 0x2c; // ,
            payload.set(p, o);
            o += p.length;
          });
          payload[o] = 0x5d; // ]
          try {
            await this.#o.producer.sendRaw({
              topic: this.#o.topic,
              contentType: METADATA_EVENTS_CONTENT_TYPE,
              recipients: this.#o.recipients ?? ['audit'],
              messages: [{ key: null, payload }],
            });
          } catch (err) {
            this.#logger.warn(
              { err: describeError(err), queued: this.#queue.length },
              'metadata events not sent; will retry',
            );
            throw err;
          }
          this.#queue.splice(0, batch.length);
          this.#sent += batch.length;
        }
      });
    return this.#flushing;
  }

  /** Flushes what is queued (best effort) and stops the timer. Does not close the producer. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush().catch(() => undefined);
    this.#closed = true;
  }
}

/** Parses a metadata-event batch payload into events (the audit worker validates each element). */
export function decodeMetadataEventBatch(payload: Uint8Array): unknown[] {
  const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  if (!Array.isArray(v)) throw new TypeError('a metadata-event batch is a JSON array');
  return v;
}
