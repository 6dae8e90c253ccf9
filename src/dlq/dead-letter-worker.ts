import { Counter, Gauge, type Registry } from 'prom-client';
import type { CryptoProvider } from '../crypto/provider.js';
import type {
  ConsumedBatch,
  BatchControl,
  Transport,
  TransportConsumer,
} from '../kafka/transport.js';
import type { Clock } from '../runtime/clock.js';
import { toQuarantineEntry, type SigningKeysOf } from './quarantine-ingestor.js';
import { QUARANTINE_REASONS, type QuarantineStore } from './quarantine-store.js';

/** Minimal structured logger (pino satisfies it). Never given record content. */
export interface WorkerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DeadLetterWorkerOptions {
  readonly transport: Transport;
  readonly store: QuarantineStore;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly signingKeysOf: SigningKeysOf;
  readonly deadLetterTopic: string;
  /** Consumer group of the worker. Default `sealpost-dlq-worker`. */
  readonly groupId?: string;
  /** Group session timeout: how soon a dead member's partitions move to a live one. */
  readonly sessionTimeoutMs?: number;
  readonly registry: Registry;
  readonly logger: WorkerLogger;
}

/**
 * Moves records from the dead-letter topic into the quarantine store. Per batch: every record
 * becomes an entry (garbage included, as `unrecognised`), the batch is stored in one transaction,
 * and only then are the offsets committed — so a crash at any point loses nothing, and the store's
 * idempotency (dead-letter coordinates) absorbs redelivery. It never produces to its input topic and
 * never decrypts.
 */
export class DeadLetterWorker {
  readonly #o: DeadLetterWorkerOptions;
  readonly #consumer: TransportConsumer;
  readonly #stored: Counter;
  #running = false;
  #lastBatchAtMs: number | null = null;
  #lag = 0;

  constructor(options: DeadLetterWorkerOptions) {
    this.#o = options;
    this.#consumer = options.transport.consumer({
      groupId: options.groupId ?? 'sealpost-dlq-worker',
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: options.sessionTimeoutMs }),
    });
    const store = options.store;
    const clock = options.clock;
    this.#stored = new Counter({
      name: 'sealpost_dlq_records_total',
      help: 'Dead-letter records processed by this worker (redeliveries included), by reason',
      labelNames: ['reason'],
      registers: [options.registry],
    });
    new Gauge({
      name: 'sealpost_quarantine_entries',
      help: 'Entries currently quarantined, by reason',
      labelNames: ['reason'],
      registers: [options.registry],
      async collect() {
        // Every reason reads 0 when it has no entry (after a purge), not a vanished series.
        const counts = await store.countsByReason();
        for (const reason of QUARANTINE_REASONS) this.set({ reason }, counts[reason] ?? 0);
      },
    });
    new Gauge({
      name: 'sealpost_quarantine_released_total',
      help: 'Entries released from quarantine over the store life',
      registers: [options.registry],
      async collect() {
        this.set((await store.totals()).released);
      },
    });
    new Gauge({
      name: 'sealpost_quarantine_purged_total',
      help: 'Entries purged from quarantine over the store life',
      registers: [options.registry],
      async collect() {
        this.set((await store.totals()).purged);
      },
    });
    new Gauge({
      name: 'sealpost_quarantine_oldest_age_seconds',
      help: 'Age of the oldest quarantined entry (0 when empty)',
      registers: [options.registry],
      async collect() {
        const t = await store.oldestArrivalMs();
        this.set(t === null ? 0 : Math.max(0, (clock.nowMs() - t) / 1000));
      },
    });
    // sealpost_dlq_lag_records (high watermark minus committed, measured even when no batch
    // arrives) is the worker entry point's broker probe: src/observability/broker-probe.ts.
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [this.#o.deadLetterTopic], fromBeginning: true });
    this.#consumer.onCrash(({ error, willRestart }) => {
      this.#o.logger.error(
        { code: (error as { code?: string }).code, willRestart },
        'dead-letter consumer crashed',
      );
    });
    this.#running = true;
    await this.#consumer.run({
      eachBatch: (batch, control) => this.#handleBatch(batch, control),
      onHandlerError: (err, at) =>
        this.#o.logger.warn(
          { code: (err as { code?: string }).code, ...at },
          'dead-letter batch failed; will retry',
        ),
    });
    this.#o.logger.info({ topic: this.#o.deadLetterTopic }, 'dead-letter worker started');
  }

  async #handleBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (batch.records.length === 0) return;
    const now = this.#o.clock.nowMs();
    const entries = batch.records.map((r) =>
      toQuarantineEntry(this.#o.crypto, r, this.#o.signingKeysOf, now),
    );
    await this.#o.store.add(entries);
    for (const e of entries) this.#stored.inc({ reason: e.reason });
    const last = batch.records[batch.records.length - 1]!;
    await this.#consumer.commitOffsets([
      {
        topic: batch.topic,
        partition: batch.partition,
        offset: (BigInt(last.offset) + 1n).toString(),
        metadata: null,
      },
    ]);
    control.resolveOffset(last.offset);
    this.#lastBatchAtMs = now;
    this.#lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.offset) - 1n));
  }

  health(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: this.#running,
      detail: { running: this.#running, lastBatchAtMs: this.#lastBatchAtMs, lag: this.#lag },
    };
  }

  /** Graceful stop: finishes the batch in hand, leaves the group, closes the store. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#consumer.disconnect();
    await this.#o.store.close();
    this.#o.logger.info({}, 'dead-letter worker stopped');
  }
}
