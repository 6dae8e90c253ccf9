/**
 * Keeps the records a consumer fetches, as fetched (key, value bytes, headers), until the worker that
 * handles their opened contents takes them: the audit worker dead-letters a metadata record whose
 * opened batch is malformed or holds invalid events with its original bytes (docs/OPERATIONS.md,
 * audit log), and a SealedDelivery carries only the opened value. Wraps a Transport: only `consumer()`
 * changes; every other call goes to the wrapped transport as it is.
 */
import type {
  ConsumedRecord,
  ConsumerRunOptions,
  Transport,
  TransportConsumer,
} from '../kafka/transport.js';

/** Records kept per partition at most (the oldest go first; a taken record drops those before it). */
const DEFAULT_MAX_PER_PARTITION = 10_000;

export class RawRecordTap {
  readonly #maxPerPartition: number;
  /** `topic\npartition` → offset → record, in fetch order. */
  readonly #records = new Map<string, Map<string, ConsumedRecord>>();

  constructor(options: { readonly maxPerPartition?: number } = {}) {
    this.#maxPerPartition = options.maxPerPartition ?? DEFAULT_MAX_PER_PARTITION;
  }

  /** `transport`, with every consumer it builds feeding this tap. */
  wrap(transport: Transport): Transport {
    return forward(transport, {
      consumer: (...args: Parameters<Transport['consumer']>) =>
        this.#wrapConsumer(transport.consumer(...args)),
    });
  }

  /** The record fetched at (topic, partition, offset), removed with every older one of the partition. */
  take(topic: string, partition: number, offset: string): ConsumedRecord | undefined {
    const records = this.#records.get(`${topic}\n${partition}`);
    if (records === undefined) return undefined;
    const found = records.get(offset);
    if (found === undefined) return undefined;
    for (const key of records.keys()) {
      records.delete(key);
      if (key === offset) break;
    }
    return found;
  }

  #keep(record: ConsumedRecord): void {
    const key = `${record.topic}\n${record.partition}`;
    let records = this.#records.get(key);
    if (records === undefined) {
      records = new Map();
      this.#records.set(key, records);
    }
    records.delete(record.offset); // a re-fetch moves it to the end
    records.set(record.offset, record);
    if (records.size > this.#maxPerPartition) {
      const oldest = records.keys().next();
      if (oldest.done !== true) records.delete(oldest.value);
    }
  }

  #wrapConsumer(consumer: TransportConsumer): TransportConsumer {
    const run = (options: ConsumerRunOptions): Promise<void> => {
      if (options.eachBatch !== undefined) {
        const inner = options.eachBatch;
        return consumer.run({
          ...options,
          eachBatch: (batch, control) => {
            for (const r of batch.records) this.#keep(r);
            return inner(batch, control);
          },
        });
      }
      const inner = options.eachMessage;
      return consumer.run({
        ...options,
        eachMessage: (record) => {
          this.#keep(record);
          return inner(record);
        },
      });
    };
    return forward(consumer, { run });
  }
}

/** `target` with `overrides`; every other property read from (and methods bound to) `target`. */
function forward<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop))
        return (overrides as Record<string | symbol, unknown>)[prop];
      const value: unknown = Reflect.get(t, prop, t);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(t) : value;
    },
  });
}
