import { Counter, Histogram, type Registry } from 'prom-client';

/** Latency buckets in seconds: sealing and opening take microseconds, sessions hundreds of them. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze([
  0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
]);

/** Options of {@link SealpostMetrics}. */
export interface SealpostMetricsOptions {
  /** Metric name prefix. Default `sealpost_`. */
  readonly prefix?: string;
}

/**
 * The pipeline's Prometheus metrics, registered on an injected prom-client Registry (never the
 * global one, so several instances and tests do not collide). Labels carry topics, coarse classes
 * and rejection codes only — never identities of senders, keys or payload data.
 */
export class SealpostMetrics {
  /** Records sealed by the producer. */
  readonly sealed: Counter<'topic'>;
  /** Records opened and delivered to the application. */
  readonly opened: Counter<'topic'>;
  /** Records refused by the consumer, by detailed rejection code (e.g. `TAG_MISMATCH`). */
  readonly rejected: Counter<'topic' | 'reason'>;
  /** Records not addressed to this consumer: skipped and committed past, not dead-lettered. */
  readonly skippedNotAddressed: Counter<'topic'>;
  /** Exact duplicates dropped by the replay window. */
  readonly duplicates: Counter<'topic'>;
  /** Records written to the dead-letter topic, by coarse class (MALFORMED, CONTEXT, ...). */
  readonly deadLettered: Counter<'topic' | 'class'>;
  /** Transient failures that paused a partition (registry or broker down, no admission token ...). */
  readonly transientPauses: Counter<'topic' | 'reason'>;
  /** Sessions opened: `role` is `producer` (new session sealed) or `consumer` (header opened). */
  readonly sessionsOpened: Counter<'topic' | 'role'>;
  /** Time to seal one record, seconds. */
  readonly sealSeconds: Histogram<'topic'>;
  /** Time to open one record, seconds. */
  readonly openSeconds: Histogram<'topic'>;

  constructor(registry: Registry, options: SealpostMetricsOptions = {}) {
    const p = options.prefix ?? 'sealpost_';
    const registers = [registry];
    this.sealed = new Counter({ name: `${p}sealed_total`, help: 'Records sealed.', labelNames: ['topic'], registers });
    this.opened = new Counter({ name: `${p}opened_total`, help: 'Records opened and delivered.', labelNames: ['topic'], registers });
    this.rejected = new Counter({
      name: `${p}rejected_total`,
      help: 'Records refused by the consumer, by rejection code.',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.skippedNotAddressed = new Counter({
      name: `${p}skipped_not_addressed_total`,
      help: 'Records not addressed to this consumer (skipped, not dead-lettered).',
      labelNames: ['topic'],
      registers,
    });
    this.duplicates = new Counter({
      name: `${p}duplicates_total`,
      help: 'Exact duplicates dropped by the replay window.',
      labelNames: ['topic'],
      registers,
    });
    this.deadLettered = new Counter({
      name: `${p}dead_lettered_total`,
      help: 'Records written to the dead-letter topic, by coarse class.',
      labelNames: ['topic', 'class'],
      registers,
    });
    this.transientPauses = new Counter({
      name: `${p}transient_pauses_total`,
      help: 'Partition pauses for transient failures, by reason.',
      labelNames: ['topic', 'reason'],
      registers,
    });
    this.sessionsOpened = new Counter({
      name: `${p}sessions_opened_total`,
      help: 'Sessions opened (producer: sealed a new session; consumer: opened a new header).',
      labelNames: ['topic', 'role'],
      registers,
    });
    this.sealSeconds = new Histogram({
      name: `${p}seal_seconds`,
      help: 'Time to seal one record.',
      labelNames: ['topic'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.openSeconds = new Histogram({
      name: `${p}open_seconds`,
      help: 'Time to open one record.',
      labelNames: ['topic'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    });
  }
}
