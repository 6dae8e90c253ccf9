/**
 * SealedConsumer: sealed envelopes in, verified application objects out (docs/SPEC.md §5).
 *
 * Per record (consumer/record-processor.ts), in order, failing closed: envelope opener (decode →
 * context → slot → header cache with admission tokens → header → tag → replay pre-check → decrypt) →
 * payload (writer schema by id, schemaFp must match, decode with limits and an optional reader
 * schema) → the application's handler → mark the replay window. At the end of each batch: write the
 * sealed replay state record, then commit the offset with a pointer to it (consumer/partition-state.ts,
 * replay-state-store.ts).
 *
 * Permanent failures go to the dead-letter topic (original record untouched, coarse class in clear,
 * detailed code sealed) and the offset moves only after the dead-letter write is acknowledged.
 * Transient failures (registry, broker, KMS, directory head expired, a handler that throws, an unknown
 * sender within its bounded wait, no admission token, a record addressed to a key of ours that is
 * not loaded) pause the partition and retry with backoff — never a dead letter. Records not addressed
 * to us are skipped and counted; exact duplicates dropped and counted (consumer/rejection-route.ts).
 *
 * This file is the lifecycle: options resolved once (consumer/consumer-settings.ts), the parts wired,
 * run/close, the transport consumer's restarts, and the batch loop.
 */
import { EnvelopeOpener } from '../envelope/envelope-opener.js';
import { ReleaseAdmission } from './consumer/release-admission.js';
import type {
  BatchControl,
  ConsumedBatch,
  ConsumedRecord,
  ConsumerCrash,
  TopicPartition,
  TransportConsumer,
  TransportProducer,
} from '../kafka/transport.js';
import { DirectorySenderResolver } from '../keys/directory/directory-sender-resolver.js';
import { AdmissionControl } from './admission-control.js';
import { backoffDelayMs } from './consumer/backoff.js';
import { resolveConsumerSettings, type ConsumerSettings } from './consumer/consumer-settings.js';
import type {
  SealedConsumerOptions,
  SealedDelivery,
  SealedMessageHandler,
} from './consumer/consumer-types.js';
import { DirectoryFreshness } from './consumer/directory-freshness.js';
import { OpeningKeys } from './consumer/opening-keys.js';
import { PartitionStates } from './consumer/partition-state.js';
import { HandOut, RecordProcessor } from './consumer/record-processor.js';
import type { RecordOutcome } from './consumer/rejection-route.js';
import { RejectionRoute } from './consumer/rejection-route.js';
import { RestartSupervisor } from './consumer/restart-supervisor.js';
import { DeadLetterBreaker } from './dead-letter-breaker.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { registerEnvelopeSchema } from './envelope-schema.js';
import { SuitePolicy } from '../keys/suite-policy.js';
import { resolveSuite2SchemaId } from './suite-schemas.js';
import { PipelineError } from './pipeline-error.js';
import { describeError, type PipelineLogger } from './pipeline-logger.js';
import { ReplayStateStore } from './replay-state-store.js';

export type { SealedConsumerOptions, SealedDelivery, SealedMessageHandler };

/** Longest total token wait served in place within one batch (ms); also the shortest token pause. */
const IN_PLACE_WAIT_MS = 250;

/** See the module comment. */
export class SealedConsumer {
  readonly #o: SealedConsumerOptions;
  /** Every alert of this consumer: counted (`sealpost_consumer_alerts_total`), then the application's `onAlert`. */
  readonly #alert: NonNullable<SealedConsumerOptions['onAlert']>;
  readonly #s: ConsumerSettings;
  readonly #logger: PipelineLogger;
  #consumer: TransportConsumer;
  /** Listeners on the current transport consumer (removed when it is replaced after a crash). */
  #consumerUnsubscribe: (() => void)[] = [];
  readonly #restarts: RestartSupervisor;
  readonly #producer: TransportProducer;
  readonly #admission: AdmissionControl;
  readonly #breaker: DeadLetterBreaker;
  /** Made at run(): the parts that need the store, the opener and the handler. */
  #partitions: PartitionStates | undefined;
  #processor: RecordProcessor | undefined;
  #store: ReplayStateStore | undefined;
  #opener: EnvelopeOpener | undefined;
  #dlq: DeadLetterWriter | undefined;
  readonly #route: RejectionRoute;
  readonly #keys: OpeningKeys;
  readonly #freshness: DirectoryFreshness;
  #flushTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void)[] = [];
  #state: 'new' | 'running' | 'closed' = 'new';
  /** Set by close(): no record is handed out any more. */
  #closing = false;
  readonly #activeBatches = new Set<Promise<void>>();
  readonly #backoff = new Map<string, number>();

  constructor(options: SealedConsumerOptions) {
    // Checked and resolved before the transport is touched.
    const s = resolveConsumerSettings(options);
    this.#o = options;
    this.#s = s;
    this.#logger = s.logger;
    this.#alert = (alert) => {
      options.metrics?.consumerAlerts.inc({ code: alert.code });
      options.onAlert?.(alert);
    };
    this.#consumer = options.transport.consumer(s.consumerOptions);
    // Replay-state records and dead letters are sealed, one record per write: gzip would only
    // spend CPU (a compressor per write) on ciphertext it cannot shrink.
    this.#producer = options.transport.producer({ compression: 'none' });
    this.#freshness = new DirectoryFreshness(options.directory, options.clock, this.#logger);
    this.#keys = new OpeningKeys({
      identity: options.identity,
      directory: options.directory,
      ...(options.identitySource === undefined ? {} : { source: options.identitySource }),
      clock: options.clock,
      logger: this.#logger,
      apply: (keys) => this.#opener?.setRecipientKeys(keys),
    });
    this.#restarts = new RestartSupervisor({
      policy: s.restart,
      clock: options.clock,
      logger: this.#logger,
      active: () => this.#state === 'running' && !this.#closing,
      replace: () => this.#replaceConsumer(),
      alert: (code) => this.#alertTopics(code),
    });
    this.#admission = new AdmissionControl(options.clock, options.admission);
    this.#breaker = new DeadLetterBreaker(options.clock, options.deadLetterBreaker, {
      opened: (topic, partition) => {
        options.metrics?.deadLetterBreakerOpen.set({ topic, partition: String(partition) }, 1);
        this.#logger.warn(
          { topic, partition },
          'dead-letter breaker open; partition waits for budget',
        );
        this.#alert({ topic, partition, code: 'DEAD_LETTER_BREAKER_OPEN' });
      },
      closed: (topic, partition) => {
        options.metrics?.deadLetterBreakerOpen.set({ topic, partition: String(partition) }, 0);
        this.#logger.info({ topic, partition }, 'dead-letter breaker closed');
      },
    });
    this.#route = new RejectionRoute({
      breaker: this.#breaker,
      writer: () => this.#dlq!,
      groupId: options.groupId,
      logger: this.#logger,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.events === undefined ? {} : { events: options.events }),
    });
  }

  /** Partitions held paused because their replay state was refused (operator attention needed). */
  refusedPartitions(): TopicPartition[] {
    return this.#partitions?.refused() ?? [];
  }

  /**
   * Connects, loads the replay state key, subscribes and starts delivering to `eachMessage`. Resolves
   * once the run loop has started.
   */
  async run<T = unknown>(options: {
    readonly eachMessage: SealedMessageHandler<T>;
  }): Promise<void> {
    if (this.#state !== 'new')
      throw new PipelineError(
        this.#state === 'closed' ? 'PIPELINE_CLOSED' : 'PIPELINE_NOT_READY',
        'run() may be called once',
      );
    const o = this.#o;
    const s = this.#s;
    // Before anything is connected: a registry that is down at start leaves the consumer re-runnable.
    const envelopeSchemaId =
      o.envelopeSchemaId ?? (await registerEnvelopeSchema(o.registry, s.envelopeSubject));
    const suites = o.suitePolicy ?? SuitePolicy.CLASSICAL;
    const suite2EnvelopeSchemaId = await resolveSuite2SchemaId({
      suites,
      pinned: o.suite2EnvelopeSchemaId,
      registry: o.registry,
      envelopeSubject: s.envelopeSubject,
    });
    const acceptsSuite = (topic: string, suite: number): boolean => suites.opens(topic, suite);
    const suite2Limits = suite2EnvelopeSchemaId === undefined ? {} : { suite2EnvelopeSchemaId };
    if (this.#state !== 'new')
      throw new PipelineError('PIPELINE_NOT_READY', 'run() may be called once');
    this.#state = 'running';
    await this.#producer.connect();
    this.#store = new ReplayStateStore({
      transport: o.transport,
      producer: this.#producer,
      stateTopic: o.stateTopic,
      group: o.groupId,
      identity: o.identity.name,
      kms: o.kms,
      crypto: o.crypto,
      clock: o.clock,
      logger: this.#logger,
    });
    this.#dlq = new DeadLetterWriter({
      producer: this.#producer,
      topic: o.deadLetterTopic,
      crypto: o.crypto,
      clock: o.clock,
      identity: o.identity,
      directory: o.directory,
      group: o.groupId,
      detailRecipients: s.deadLetterDetailRecipients,
    });
    this.#opener = new EnvelopeOpener({
      provider: o.crypto,
      clock: o.clock,
      resolver: new DirectorySenderResolver(o.directory),
      policy: s.policy,
      limits: {
        envelopeSchemaId,
        ...suite2Limits,
        namespace: o.directory.namespace,
        maxCiphertextBytes: s.maxCiphertextBytes,
      },
      recipientKeys: this.#keys.current(),
      // The topic's suite policy (docs/SECURITY.md "Post-quantum sealing"): SUITE_NOT_ALLOWED.
      acceptsSuite,
    });
    // Quarantine releases (docs/SPEC.md §11) are opened with the same identity, policy and limits.
    const releases = new ReleaseAdmission({
      crypto: o.crypto,
      clock: o.clock,
      directory: o.directory,
      identity: o.identity,
      group: o.groupId,
      policy: s.policy,
      limits: {
        envelopeSchemaId,
        ...suite2Limits,
        namespace: o.directory.namespace,
        maxCiphertextBytes: s.maxCiphertextBytes,
      },
      acceptsSuite,
    });
    const partitions = new PartitionStates({
      store: this.#store,
      consumer: () => this.#consumer,
      admin: () => o.transport.admin(),
      groupId: o.groupId,
      clock: o.clock,
      logger: this.#logger,
      ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
      onAlert: this.#alert,
      replayStatePolicy: s.replayStatePolicy,
      maxMarkLead: s.maxMarkLead,
      horizonMs: s.policy.horizonMs,
      windowIdleShrinkMs: s.windowIdleShrinkMs,
      maxRetryDelayMs: s.maxRetryDelayMs,
      admit: (key) => {
        const verdict = this.#admission.take(key);
        if (verdict !== 'admitted') o.metrics?.throttled.inc({ scope: verdict });
        else o.metrics?.sessionsOpened.inc({ side: 'consumer' });
        return verdict === 'admitted';
      },
      released: (topic, partition) => this.#breaker.release(topic, partition),
      running: () => this.#state === 'running',
      closing: () => this.#closing,
    });
    this.#partitions = partitions;
    this.#processor = new RecordProcessor({
      opener: this.#opener,
      partitions,
      route: this.#route,
      keys: this.#keys,
      freshness: this.#freshness,
      admission: this.#admission,
      directory: o.directory,
      identity: o.identity.name,
      registry: o.registry,
      crypto: o.crypto,
      clock: o.clock,
      handler: options.eachMessage as SealedMessageHandler,
      settings: s,
      ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
      ...(o.events === undefined ? {} : { events: o.events }),
      groupId: o.groupId,
      onAlert: this.#alert,
      ...(o.tracing === undefined ? {} : { tracing: o.tracing }),
      releases,
    });
    this.#unsubscribe.push(o.directory.onEpochChange(() => this.#keys.refresh()));
    await this.#startConsumer();
    // Offsets processed but not yet committed (a failed commit) are retried in the background.
    this.#flushTimer = setInterval(() => {
      partitions.flushDirty();
      this.#breaker.tick();
    }, 1000);
    this.#flushTimer.unref();
  }

  /** Wires, connects, subscribes and runs the current transport consumer. */
  async #startConsumer(): Promise<void> {
    const o = this.#o;
    const consumer = this.#consumer;
    this.#consumerUnsubscribe.push(
      consumer.onAssignment((assignment) => this.#partitions!.assign(assignment)),
      consumer.onCrash((crash) => this.#onCrash(consumer, crash)),
    );
    await consumer.connect();
    await consumer.subscribe({
      topics: o.topics,
      ...(o.fromBeginning === undefined ? {} : { fromBeginning: o.fromBeginning }),
    });
    await consumer.run({
      eachBatch: (batch, control) => this.#eachBatch(batch, control),
      partitionsConsumedConcurrently: this.#s.partitionsConsumedConcurrently,
      onHandlerError: (err, at) =>
        this.#logger.warn(
          { err: describeError(err), topic: at.topic, partition: at.partition },
          'batch failed; partition paused',
        ),
    });
  }

  #onCrash(consumer: TransportConsumer, crash: ConsumerCrash): void {
    this.#logger.error(
      { err: describeError(crash.error), willRestart: crash.willRestart },
      'transport consumer crashed',
    );
    this.#o.metrics?.transientRetries.inc({ reason: 'consumer-crash' });
    // Only the current transport consumer's crash counts (an old one's is over).
    if (consumer === this.#consumer) this.#restarts.crashed(crash);
  }

  /**
   * Replaces the crashed transport consumer (the client left the group on its crash, so the next
   * member takes over without waiting out a session timeout); our partitions are reassigned to the
   * new member (or another one) and reloaded then.
   */
  async #replaceConsumer(): Promise<void> {
    for (const u of this.#consumerUnsubscribe) u();
    this.#consumerUnsubscribe = [];
    await this.#consumer.disconnect().catch(() => undefined);
    // The crashed member left the group: what it held may be handled by others before we rejoin.
    this.#partitions?.assign([]);
    this.#consumer = this.#o.transport.consumer(this.#s.consumerOptions);
    await this.#startConsumer();
  }

  /** A consumer-wide alert: one per subscribed topic, partition -1. */
  #alertTopics(code: string): void {
    for (const topic of this.#o.topics) this.#alert({ topic, partition: -1, code });
  }

  /**
   * Whether the consumer is consuming: false before run(), after close(), and once it gave up
   * restarting a crashed transport consumer (`state: 'failed'`). While it restarts, `ok` stays true
   * and `state` is 'restarting'.
   */
  health(): {
    readonly ok: boolean;
    readonly state: 'new' | 'running' | 'restarting' | 'failed' | 'closed';
    readonly restarts: number;
    readonly refusedPartitions: number;
  } {
    const state = this.#restarts.failed
      ? 'failed'
      : this.#state === 'running' && this.#restarts.restarting
        ? 'restarting'
        : this.#state;
    return {
      ok: state === 'running' || state === 'restarting',
      state,
      restarts: this.#restarts.attempts,
      refusedPartitions: this.refusedPartitions().length,
    };
  }

  /** Calls `listener` once the consumer gave up restarting (CONSUMER_FAILED). Returns an unsubscribe. */
  onFailed(listener: (error: PipelineError) => void): () => void {
    return this.#restarts.onFailed(listener);
  }

  /** Runs a batch, tracked so close() can wait for the one in hand before its last commit. */
  async #eachBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    if (this.#closing) return;
    const run = this.#runBatch(batch, control);
    const tracked = run.catch(() => undefined);
    this.#activeBatches.add(tracked);
    try {
      await run;
    } finally {
      this.#activeBatches.delete(tracked);
    }
  }

  async #runBatch(batch: ConsumedBatch, control: BatchControl): Promise<void> {
    const partitions = this.#partitions!;
    const processor = this.#processor!;
    const entry = partitions.get(batch.topic, batch.partition);
    if (entry === undefined || entry.status !== 'ready') {
      // Not loaded yet (or refused): hold the partition; the loader resumes it.
      control.pause(entry?.status === 'refused' ? {} : { resumeAfterMs: 1000 });
      return;
    }
    const key = entry.key;
    // What the fetch proves about when its records were written (PartitionStates.writtenBeforeMs).
    partitions.fetched(entry, batch.highWatermark);
    const stale = (): boolean => !control.isRunning() || control.isStale();
    entry.stale = stale;
    let processed = false;
    let count = 0;
    let beatAtMs = this.#o.clock.nowMs();
    // Token waits served in place, bounded per batch: with partitionsConsumedConcurrently = 1 a wait
    // here holds every other partition too, so a longer wait pauses this partition instead.
    let waitedInPlaceMs = 0;
    // The offset the transport is told is done, once per batch (and before every early return):
    // it needs it only to know where to fetch from after this batch, and kafkajs re-parses every
    // resolved offset (0.8–1.5 µs per record, docs/PERFORMANCE.md "Where the time goes").
    let resolved: string | undefined;
    // The record being processed: it may hold the partition's opened-body memory (released below).
    let inHand: ConsumedRecord | undefined;
    try {
      for (const record of batch.records) {
        // A new assignment is reloading this partition: stop; unresolved records are fetched again.
        if (!control.isRunning() || control.isStale() || entry.status !== 'ready' || this.#closing)
          break;
        const offset = BigInt(record.offset);
        if (entry.state.nextOffset !== null && offset < entry.state.nextOffset) {
          // Already processed (a refetch after a pause): the window would call it a duplicate anyway.
          resolved = record.offset;
          continue;
        }
        // Awaited only when it is a promise: a skipped record needs no microtask. A hand-out's
        // handler is awaited here, its outcome taken after (no async function of ours per record).
        inHand = record;
        const answer = processor.begin(record, entry, offset);
        let outcome: RecordOutcome;
        if (answer instanceof HandOut) {
          let failed = false;
          let failure: unknown;
          try {
            await answer.handled;
          } catch (err) {
            failed = true;
            failure = err;
          }
          outcome = failed ? processor.handlerFailed(answer, failure) : processor.handedOut(answer);
        } else outcome = answer instanceof Promise ? await answer : answer;
        // A short token wait is served in place: pausing and re-fetching costs far more than the
        // few milliseconds until the next token (the partition makes no progress either way).
        while (
          outcome.kind === 'pause' &&
          waitedInPlaceMs + outcome.afterMs <= IN_PLACE_WAIT_MS &&
          control.isRunning() &&
          !control.isStale()
        ) {
          const waitMs = outcome.afterMs;
          waitedInPlaceMs += waitMs;
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          await control.heartbeat();
          outcome = await processor.process(record, entry, offset);
        }
        // The record's outcome is final: its opened message's views are dead.
        entry.openedBody.release(record);
        if (outcome.kind === 'retry' || outcome.kind === 'pause') {
          const n = (this.#backoff.get(key) ?? 0) + 1;
          this.#backoff.set(key, n);
          // A token wait is known exactly (no exponential backoff); other failures back off.
          const delay =
            outcome.kind === 'pause'
              ? Math.max(outcome.afterMs, IN_PLACE_WAIT_MS)
              : Math.max(
                  outcome.afterMs,
                  backoffDelayMs(Math.min(n, 9) + 1, 100, this.#s.maxRetryDelayMs),
                );
          this.#o.metrics?.transientRetries.inc({ reason: outcome.reason });
          this.#logger.info(
            {
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              reason: outcome.reason,
              delayMs: delay,
            },
            'partition paused',
          );
          control.pause({ resumeAfterMs: delay });
          break;
        }
        this.#backoff.delete(key);
        partitions.processed(entry, offset);
        processed = true;
        resolved = record.offset;
        ++count;
        // Between records, at the heartbeat interval (the transport sends at most one per interval):
        // a long batch of slow handlers must not outlive the session timeout.
        const now = this.#o.clock.nowMs();
        if (now - beatAtMs >= this.#s.heartbeatMs) {
          beatAtMs = now;
          processor.flushOpened();
          await control.heartbeat();
        }
        // Large batches commit as they go (in the background; what runs ahead of the last commit is
        // bounded by the hand-out mark, see PartitionStates.persistBehind).
        if (count % this.#s.commitEveryRecords === 0) partitions.persistBehind(entry);
      }
    } finally {
      // A record left by a throw or a break holds nothing the batch still needs.
      if (inHand !== undefined) entry.openedBody.release(inHand);
      processor.flushOpened();
      if (resolved !== undefined) control.resolveOffset(resolved);
      if (processed) partitions.persistBehind(entry);
      // The check holds the batch's control, and through it the fetched batch and its buffers: a
      // finished batch must not stay reachable from the partition until the next one.
      if (entry.stale === stale) entry.stale = undefined;
    }
  }

  /**
   * Stops consuming: finishes the batch in hand, writes the last replay state and commits, leaves the
   * group, zeros the cached session keys and the state key. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasRunning = this.#state === 'running';
    this.#state = 'closed';
    if (this.#flushTimer !== undefined) clearInterval(this.#flushTimer);
    this.#restarts.close();
    for (const u of this.#unsubscribe) u();
    for (const u of this.#consumerUnsubscribe) u();
    if (wasRunning) {
      // Hand nothing more out and let the batch in hand finish; then the last commit lowers the
      // hand-out mark as far as is true (PartitionStates.closeWrites).
      this.#closing = true;
      await Promise.all([...this.#activeBatches]);
      await this.#partitions?.closeWrites();
      // A crashed (or failed) transport consumer has left the group already.
      await this.#consumer
        .disconnect()
        .catch((err: unknown) =>
          this.#logger.warn({ err: describeError(err) }, 'consumer disconnect failed'),
        );
      await this.#producer.disconnect();
    }
    this.#opener?.close();
    this.#store?.close();
  }
}
