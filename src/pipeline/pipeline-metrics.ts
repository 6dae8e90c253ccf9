import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Prometheus metrics of the producer and consumer. One instance per prom-client Registry (metric
 * names must be unique within a registry): share it between the producers and consumers of a process.
 */
export class PipelineMetrics {
  readonly sealed: Counter<'topic'>;
  readonly sessionsOpened: Counter<'side'>;
  readonly opened: Counter<'topic'>;
  readonly rejected: Counter<'class' | 'code'>;
  readonly skippedNotAddressed: Counter<'topic'>;
  readonly duplicates: Counter<'topic'>;
  readonly deadLettered: Counter<'class'>;
  readonly transientRetries: Counter<'reason'>;
  readonly throttled: Counter<'scope'>;
  readonly deadLetterBreakerOpen: Gauge<'topic' | 'partition'>;
  readonly deadLetterThrottled: Counter<'scope'>;
  readonly consumerAlerts: Counter<'code'>;
  readonly sealSeconds: Histogram;
  readonly openSeconds: Histogram;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sealed = new Counter({
      name: 'sealpost_sealed_total',
      help: 'Messages sealed and acknowledged',
      labelNames: ['topic'],
      registers,
    });
    this.sessionsOpened = new Counter({
      name: 'sealpost_sessions_opened_total',
      help: 'Sealing sessions created (side=producer) or session headers opened (side=consumer)',
      labelNames: ['side'],
      registers,
    });
    this.opened = new Counter({
      name: 'sealpost_opened_total',
      help: 'Messages opened and delivered to the handler',
      labelNames: ['topic'],
      registers,
    });
    this.rejected = new Counter({
      name: 'sealpost_rejected_total',
      help: 'Records rejected, by coarse class and detailed code',
      labelNames: ['class', 'code'],
      registers,
    });
    this.skippedNotAddressed = new Counter({
      name: 'sealpost_skipped_not_addressed_total',
      help: 'Records not addressed to this identity (skipped, not dead-lettered)',
      labelNames: ['topic'],
      registers,
    });
    this.duplicates = new Counter({
      name: 'sealpost_duplicates_total',
      help: 'Exact duplicates dropped',
      labelNames: ['topic'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'sealpost_dead_lettered_total',
      help: 'Records written to the dead-letter topic',
      labelNames: ['class'],
      registers,
    });
    this.transientRetries = new Counter({
      name: 'sealpost_transient_retries_total',
      help: 'Partition pauses for transient failures (registry, broker, directory, KMS, handler)',
      labelNames: ['reason'],
      registers,
    });
    this.throttled = new Counter({
      name: 'sealpost_admission_throttled_total',
      help: 'Header-cache misses refused an admission token (partition paused)',
      labelNames: ['scope'],
      registers,
    });
    this.deadLetterBreakerOpen = new Gauge({
      name: 'sealpost_dead_letter_breaker_open',
      help: 'Dead-letter breaker of a partition: 1 while its budget is spent (records wait in Kafka), 0 when closed',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.deadLetterThrottled = new Counter({
      name: 'sealpost_dead_letter_throttled_total',
      help: 'Dead-letter writes deferred by the breaker (the record waits; it is written later)',
      labelNames: ['scope'],
      registers,
    });
    this.consumerAlerts = new Counter({
      name: 'sealpost_consumer_alerts_total',
      help: 'Consumer alerts raised (the codes its onAlert receives: a partition held for an operator, a breaker opened, a key of ours not loaded, a restart)',
      labelNames: ['code'],
      registers,
    });
    const buckets = [0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1];
    this.sealSeconds = new Histogram({
      name: 'sealpost_seal_seconds',
      help: 'Time to seal one message (session creation included)',
      buckets,
      registers,
    });
    this.openSeconds = new Histogram({
      name: 'sealpost_open_seconds',
      help: 'Time to open one record (header opening included)',
      buckets,
      registers,
    });
  }
}
