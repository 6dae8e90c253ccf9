/**
 * Seals messages into one produce request per partition (docs/SPEC.md §4.3), synchronously: concurrent
 * sends cannot interleave inside a session. Collects each message's `sealed` event, to be reported once
 * the broker acknowledged it.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { MESSAGE_ID_BYTES } from '../../envelope/constants.js';
import { hash256 } from '../../envelope/derive.js';
import type { SealInput } from '../../envelope/sealing-session.js';
import type { SequenceCounter } from '../../envelope/sequence-counter.js';
import type { ProduceRequest, TransportHeader } from '../../kafka/transport.js';
import type { SealpostTracing } from '../../observability/tracing.js';
import type { PipelineEvent } from '../metadata-sink.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type {
  ActiveSession,
  PendingSource,
  SealedBatch,
  SealItems,
  SentMessage,
} from './producer-types.js';
import { hex } from './record-key.js';
import type { SessionPool } from './session-pool.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface BatchSealerOptions {
  readonly crypto: CryptoProvider;
  readonly sessions: SessionPool;
  readonly metrics?: PipelineMetrics;
  /** Collect `sealed` events (the producer has an event sink). */
  readonly reportsEvents: boolean;
  /** A seal span per record; its context is sealed into the body (docs/TRACING.md). */
  readonly tracing: SealpostTracing;
}

/** A sealed batch and, per request, the `sealed` events of its records. */
export type SealedBatchWithEvents = SealedBatch & {
  readonly events: readonly (readonly PipelineEvent[])[];
};

export class BatchSealer {
  readonly #o: BatchSealerOptions;

  /**
   * The seal histogram's observation, bound once to its (empty) label set: prom-client's
   * `observe(value)` makes a closure and a label object per call.
   */
  readonly #sealSeconds: { observe(seconds: number): void } | undefined;

  constructor(options: BatchSealerOptions) {
    this.#o = options;
    this.#sealSeconds = options.metrics?.sealSeconds.labels();
  }

  /**
   * Seals `items` in `stream`. `oneOff`: in sessions of their own, closed at the end (a re-seal under
   * a fresh stream), not the cached session of the topic.
   */
  seal(
    source: PendingSource,
    items: SealItems,
    stream: SequenceCounter,
    oneOff: boolean,
  ): SealedBatchWithEvents {
    const { topic, contentType, schemaFp, schemaId } = source;
    const sessions = this.#o.sessions;
    const next = (): ActiveSession =>
      oneOff
        ? sessions.openSession(topic, sessions.recipientsFor(topic, source.recipients), stream)
        : sessions.sessionFor(topic, source.recipients);
    let session = next();
    const byPartition = new Map<
      number,
      {
        records: { key: Buffer | null; value: Buffer; headers?: readonly TransportHeader[] }[];
        messages: Omit<SentMessage, 'offset'>[];
        events: PipelineEvent[];
      }
    >();
    const sealSeconds = this.#sealSeconds;
    const { indices, partitions, messageIds } = items;
    // A fresh message id is drawn here into one scratch (the session copies it into the body; the
    // results carry its hex), not allocated per record by the session.
    const idScratch = new Uint8Array(MESSAGE_ID_BYTES);
    // One input object for the batch, its fields set per record (seal reads it and keeps nothing of
    // it); an absent entityVersion is 0, as seal takes it. A record with a trace context gets its own.
    const input: Mutable<SealInput> = {
      partition: 0,
      seq: 0,
      key: null,
      schemaFp,
      contentType,
      payload: idScratch,
      messageId: idScratch,
      entityVersion: 0,
    };
    try {
      for (let j = 0; j < partitions.length; j++) {
        const index = indices === undefined ? j : indices[j]!;
        const p = source.payloads[index]!;
        const partition = partitions[j]!;
        const started = process.hrtime.bigint();
        let messageId = messageIds?.[j];
        if (messageId === undefined) {
          this.#o.crypto.randomFill(idScratch);
          messageId = idScratch;
        }
        if (!session.session.isUsable()) {
          if (oneOff) session.session.close();
          session = next();
        }
        const seq = stream.next(partition);
        const traced = this.#o.tracing.seal(
          topic,
          partition,
          session.recipients.length,
          session.suite,
        );
        input.partition = partition;
        input.seq = seq;
        input.key = p.key;
        input.payload = p.payload;
        input.messageId = messageId;
        input.entityVersion = p.entityVersion ?? 0;
        let sealed;
        try {
          sealed = session.session.sealRecord(
            traced.traceContext === undefined
              ? input
              : { ...input, traceContext: traced.traceContext },
          );
        } catch (err) {
          traced.end(err);
          throw err;
        }
        traced.end();
        sealSeconds?.observe(Number(process.hrtime.bigint() - started) / 1e9);
        let group = byPartition.get(partition);
        if (group === undefined) {
          group = { records: [], messages: [], events: [] };
          byPartition.set(partition, group);
        }
        const value = sealed.value;
        // The opt-in clear traceparent (docs/TRACING.md) after the application's own headers.
        const headers =
          traced.header === undefined ? p.headers : [...(p.headers ?? []), traced.header];
        group.records.push(
          headers === undefined ? { key: p.key, value } : { key: p.key, value, headers },
        );
        const messageIdHex = hex(sealed.messageId);
        group.messages.push({
          index,
          topic,
          partition,
          messageId: messageIdHex,
          createdAtMs: sealed.createdAtMs,
          seq,
        });
        if (this.#o.reportsEvents)
          group.events.push({
            type: 'sealed',
            messageId: messageIdHex,
            recipients: session.recipients.map((r) => r.identity),
            topic,
            partition,
            ...(schemaId === undefined ? {} : { schemaId }),
            ciphertextDigest: hex(hash256(this.#o.crypto, sealed.value)),
            sizeBytes: sealed.value.length,
            ...(session.suite === 2 ? { suite: 2 } : {}),
          });
      }
    } finally {
      if (oneOff) session.session.close();
    }
    const requests: ProduceRequest[] = [];
    const messages: Omit<SentMessage, 'offset'>[][] = [];
    const events: PipelineEvent[][] = [];
    for (const [partition, g] of byPartition) {
      requests.push({ topic, partition, records: g.records });
      messages.push(g.messages);
      events.push(g.events);
    }
    return { requests, messages, events };
  }
}
