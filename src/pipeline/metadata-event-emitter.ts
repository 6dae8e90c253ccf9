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
 * Delivery: at least once (a failed send puts the batch back at the head of the queue and retries).
 * With `outboxPath`, every queued event is also appended to a local outbox file (src/pipeline/
 * event-outbox.ts) until acknowledged, so events survive the process: a new emitter on the same file
 * sends them first. Beyond `maxQueued` events queued or in flight, a new event is dropped (the oldest
 * are kept, and the log stays a prefix of what happened) and counted exactly, per type (`dropped`,
 * `droppedByType()`, `droppedCounter`). `close()` throws EVENTS_NOT_FLUSHED when the final flush
 * fails. Events are never on the critical path of a send or a delivery.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import { canonicalEventBytes, type MetadataEvent } from '../events/metadata-event.js';
import type { Clock } from '../runtime/clock.js';
import { EventOutbox } from './event-outbox.js';
import type { MetadataSink, PipelineEvent } from './metadata-sink.js';
import { PipelineError } from './pipeline-error.js';
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
  /** Bound of the events queued or in flight (and of the outbox). Default 100,000. */
  readonly maxQueued?: number;
  /**
   * A local file where queued events are kept until acknowledged (created 0600; one file per emitter,
   * never shared between processes). Events left in it by a previous process are sent first.
   */
  readonly outboxPath?: string;
  /** fsync the outbox at most this many ms after an event (default 100), or on every event (0). */
  readonly outboxSyncIntervalMs?: number;
  /** Counts every dropped event by its type (e.g. a prom-client Counter with the label `type`). */
  readonly droppedCounter?: { inc(labels: { type: string }, value?: number): void };
  readonly logger?: PipelineLogger;
}

/** See the module comment. */
export class MetadataEventEmitter implements MetadataSink {
  readonly #o: MetadataEventEmitterOptions;
  readonly #logger: PipelineLogger;
  readonly #maxBatch: number;
  readonly #maxQueued: number;
  readonly #outbox: EventOutbox | undefined;
  /** Waiting to be sent, oldest first. */
  #queue: MetadataEvent[] = [];
  /** Taken from the queue by the running flush; put back at its head if the send fails. */
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #dropped = 0;
  readonly #droppedByType = new Map<string, number>();
  #sent = 0;
  #closed = false;

  constructor(options: MetadataEventEmitterOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxQueued = options.maxQueued ?? 100_000;
    if (options.outboxPath !== undefined) {
      const { outbox, replayed, unreadable } = EventOutbox.open(options.outboxPath, {
        ...(options.outboxSyncIntervalMs === undefined
          ? {}
          : { syncIntervalMs: options.outboxSyncIntervalMs }),
      });
      this.#outbox = outbox;
      this.#queue = replayed;
      if (replayed.length > 0 || unreadable > 0)
        this.#logger.info(
          { replayed: replayed.length, unreadable },
          'metadata events from the outbox queued again',
        );
    }
    this.#timer = setInterval(
      () => void this.flush().catch(() => undefined),
      options.flushIntervalMs ?? 1000,
    );
    this.#timer.unref();
    if (this.#queue.length > 0) void this.flush().catch(() => undefined);
  }

  /** Events dropped (queue full, or emitted after close). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Dropped events per event type. */
  droppedByType(): ReadonlyMap<string, number> {
    return this.#droppedByType;
  }

  /** Events sent and acknowledged. */
  get sent(): number {
    return this.#sent;
  }

  /** Events queued or in flight (not yet acknowledged). */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  emit(event: PipelineEvent): void {
    if (this.#closed || this.pending >= this.#maxQueued) {
      this.#drop(event.type);
      return;
    }
    const full: MetadataEvent = {
      ...event,
      eventId: Buffer.from(this.#o.crypto.randomBytes(16)).toString('hex'),
      timeMs: this.#o.clock.nowMs(),
      actor: this.#o.actor,
    };
    if (this.#outbox !== undefined) {
      try {
        this.#outbox.append(full);
      } catch (err) {
        this.#logger.warn({ err: describeError(err) }, 'metadata event not written to the outbox');
        this.#drop(event.type);
        return;
      }
    }
    this.#queue.push(full);
    if (this.#queue.length >= this.#maxBatch) void this.flush().catch(() => undefined);
  }

  #drop(type: string): void {
    this.#dropped++;
    this.#droppedByType.set(type, (this.#droppedByType.get(type) ?? 0) + 1);
    this.#o.droppedCounter?.inc({ type }, 1);
  }

  /** Sends everything queued (one sealed record per `maxBatch` events). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing
      .catch(() => undefined)
      .then(async () => {
        while (this.#queue.length > 0) {
          // Taken out of the queue while in flight: events emitted meanwhile queue behind it.
          const batch = this.#queue.splice(0, this.#maxBatch);
          this.#inFlight = batch.length;
          try {
            await this.#o.producer.sendRaw({
              topic: this.#o.topic,
              contentType: METADATA_EVENTS_CONTENT_TYPE,
              recipients: this.#o.recipients ?? ['audit'],
              messages: [{ key: null, payload: encodeBatch(batch) }],
            });
          } catch (err) {
            this.#queue = batch.concat(this.#queue);
            this.#logger.warn(
              { err: describeError(err), queued: this.#queue.length },
              'metadata events not sent; will retry',
            );
            throw err;
          } finally {
            this.#inFlight = 0;
          }
          this.#sent += batch.length;
          this.#outbox?.acknowledged(this.#queue);
        }
      });
    return this.#flushing;
  }

  /**
   * Stops the timer and flushes what is queued. If that flush fails, throws EVENTS_NOT_FLUSHED
   * (the events stay in the outbox, when there is one, for the next emitter on it). Does not close
   * the producer. Events emitted after close are dropped and counted.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    let failure: unknown;
    try {
      await this.flush();
    } catch (err) {
      failure = err;
    }
    this.#closed = true;
    const unsent = this.pending;
    this.#outbox?.close();
    if (failure !== undefined)
      throw new PipelineError(
        'EVENTS_NOT_FLUSHED',
        `${unsent} metadata events were not acknowledged at close` +
          (this.#outbox === undefined ? ' and are lost' : '; they stay in the outbox'),
        { retriable: true, cause: failure },
      );
  }
}

/** `[` e1 `,` e2 … `]`: the canonical bytes of each event in a JSON array. */
function encodeBatch(batch: readonly MetadataEvent[]): Uint8Array {
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
  return payload;
}

/** Parses a metadata-event batch payload into events (the audit worker validates each element). */
export function decodeMetadataEventBatch(payload: Uint8Array): unknown[] {
  const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  if (!Array.isArray(v)) throw new TypeError('a metadata-event batch is a JSON array');
  return v;
}
