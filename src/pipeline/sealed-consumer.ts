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
import { hash256, schemaFingerprint } from '../envelope/derive.js';
import { EnvelopeOpener } from '../envelope/envelope-opener.js';
import { EnvelopeError } from '../envelope/errors.js';
import { ReplayWindow } from '../envelope/replay-window.js';
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
import { decodeConfluentFrame } from '../registry/confluent-wire-format.js';
import { AdmissionControl } from './admission-control.js';
import { classifyAddressing } from './consumer/addressing.js';
import { backoffDelayMs } from './consumer/backoff.js';
import { resolveConsumerSettings, type ConsumerSettings } from './consumer/consumer-settings.js';
import type {
  SealedConsumerOptions,
  SealedDelivery,
  SealedMessageHandler,
} from './consumer/consumer-types.js';
import { DirectoryFreshness } from './consumer/directory-freshness.js';
import { OpeningKeys } from './consumer/opening-keys.js';
import { PartitionStates, type PartitionEntry } from './consumer/partition-state.js';
import {
  DONE,
  RejectionRoute,
  routePayloadError,
  type RecordOutcome,
} from './consumer/rejection-route.js';
import { RestartSupervisor } from './consumer/restart-supervisor.js';
import { DeadLetterBreaker } from './dead-letter-breaker.js';
import { DeadLetterWriter } from './dead-letter-writer.js';
import { registerEnvelopeSchema } from './envelope-schema.js';
import { AVRO_CONTENT_TYPE, rawContentFingerprint } from './payload-content.js';
import { PipelineError } from './pipeline-error.js';
import { describeError, type PipelineLogger } from './pipeline-logger.js';
import { ReplayStateStore } from './replay-state-store.js';

export type { SealedConsumerOptions, SealedDelivery, SealedMessageHandler };

/** Longest total token wait served in place within one batch (ms); also the shortest token pause. */
const IN_PLACE_WAIT_MS = 250;
const TOKEN_WAITS: ReadonlySet<string> = new Set(['admission', 'dead-letter-breaker']);
const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** See the module comment. */
export class SealedConsumer {
  readonly #o: SealedConsumerOptions;
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
  #handler: SealedMessageHandler | undefined;
  readonly #schemaFps = new Map<number, Uint8Array>();
  readonly #rawFps = new Map<string, Uint8Array>();
  #lastSenderKid: Uint8Array | undefined;
  #lastStreamId: Uint8Array | undefined;
  #lastStreamPrefix = '';
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
    this.#consumer = options.transport.consumer(s.consumerOptions);
    this.#producer = options.transport.producer();
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
        options.onAlert?.({ topic, partition, code: 'DEAD_LETTER_BREAKER_OPEN' });
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
        namespace: o.directory.namespace,
        maxCiphertextBytes: s.maxCiphertextBytes,
      },
      recipientKeys: this.#keys.current(),
    });
    const partitions = new PartitionStates({
      store: this.#store,
      consumer: () => this.#consumer,
      admin: () => o.transport.admin(),
      groupId: o.groupId,
      clock: o.clock,
      logger: this.#logger,
      ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
      ...(o.onAlert === undefined ? {} : { onAlert: o.onAlert }),
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
    this.#handler = options.eachMessage as SealedMessageHandler;
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
    this.#consumer = this.#o.transport.consumer(this.#s.consumerOptions);
    await this.#startConsumer();
  }

  /** A consumer-wide alert: one per subscribed topic, partition -1. */
  #alertTopics(code: string): void {
    for (const topic of this.#o.topics) this.#o.onAlert?.({ topic, partition: -1, code });
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
    const entry = partitions.get(batch.topic, batch.partition);
    if (entry === undefined || entry.status !== 'ready') {
      // Not loaded yet (or refused): hold the partition; the loader resumes it.
      control.pause(entry?.status === 'refused' ? {} : { resumeAfterMs: 1000 });
      return;
    }
    const key = entry.key;
    // What the fetch proves about when its records were written (PartitionStates.writtenBeforeMs).
    partitions.fetched(entry, batch.highWatermark);
    let processed = false;
    let count = 0;
    let beatAtMs = this.#o.clock.nowMs();
    // Token waits served in place, bounded per batch: with partitionsConsumedConcurrently = 1 a wait
    // here holds every other partition too, so a longer wait pauses this partition instead.
    let waitedInPlaceMs = 0;
    try {
      for (const record of batch.records) {
        // A new assignment is reloading this partition: stop; unresolved records are fetched again.
        if (!control.isRunning() || control.isStale() || entry.status !== 'ready' || this.#closing)
          break;
        const offset = BigInt(record.offset);
        if (entry.state.nextOffset !== null && offset < entry.state.nextOffset) {
          // Already processed (a refetch after a pause): the window would call it a duplicate anyway.
          control.resolveOffset(record.offset);
          continue;
        }
        let outcome = await this.#process(record, entry);
        // A short admission wait is served in place: pausing and re-fetching costs far more than the
        // few milliseconds until the next token (the partition makes no progress either way).
        while (
          outcome.kind === 'retry' &&
          (outcome.reason === 'admission' || outcome.reason === 'dead-letter-breaker') &&
          waitedInPlaceMs + outcome.afterMs <= IN_PLACE_WAIT_MS &&
          control.isRunning() &&
          !control.isStale()
        ) {
          const waitMs = outcome.afterMs;
          waitedInPlaceMs += waitMs;
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          await control.heartbeat();
          outcome = await this.#process(record, entry);
        }
        if (outcome.kind === 'retry') {
          const n = (this.#backoff.get(key) ?? 0) + 1;
          this.#backoff.set(key, n);
          // A token wait is known exactly (no exponential backoff); other failures back off.
          const delay = TOKEN_WAITS.has(outcome.reason)
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
        control.resolveOffset(record.offset);
        ++count;
        // Between records, at the heartbeat interval (the transport sends at most one per interval):
        // a long batch of slow handlers must not outlive the session timeout.
        const now = this.#o.clock.nowMs();
        if (now - beatAtMs >= this.#s.heartbeatMs) {
          beatAtMs = now;
          await control.heartbeat();
        }
        // Large batches commit as they go (in the background; what runs ahead of the last commit is
        // bounded by the hand-out mark, see PartitionStates.persistBehind).
        if (count % this.#s.commitEveryRecords === 0) partitions.persistBehind(entry);
      }
    } finally {
      if (processed) partitions.persistBehind(entry);
    }
  }

  /** `<senderKid hex>.<streamId hex>.` of the idempotency key, remembered for the last stream seen. */
  #streamPrefix(senderKid: Uint8Array, streamId: Uint8Array): string {
    // An opened session hands out the same two arrays for every message: compare by identity.
    if (senderKid !== this.#lastSenderKid || streamId !== this.#lastStreamId) {
      this.#lastSenderKid = senderKid;
      this.#lastStreamId = streamId;
      this.#lastStreamPrefix = `${hex(senderKid)}.${hex(streamId)}.`;
    }
    return this.#lastStreamPrefix;
  }

  /**
   * A record addressed to a box key the directory lists for our identity, which the opener lacks (a
   * rotation): reload the identity through its source and open the record; if that is not possible,
   * the partition waits and alerts. Never skipped, never dead-lettered.
   */
  async #recipientKeyMissing(
    record: ConsumedRecord,
    entry: PartitionEntry,
    kid: string,
    reopened: boolean,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    if (!reopened && (await this.#keys.recover())) return this.#process(record, entry, true);
    if (entry.keyMissingAlerted !== record.offset) {
      entry.keyMissingAlerted = record.offset;
      this.#logger.warn(
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          kid,
          identitySource: this.#keys.hasSource,
        },
        'record addressed to a key of ours that is not loaded; partition waits',
      );
      o.onAlert?.({
        topic: record.topic,
        partition: record.partition,
        code: 'RECIPIENT_KEY_MISSING',
      });
    }
    return {
      kind: 'retry',
      afterMs: this.#keys.retryAfterMs(),
      reason: 'recipient-key-missing',
    };
  }

  async #process(
    record: ConsumedRecord,
    entry: PartitionEntry,
    reopened = false,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    const m = o.metrics;
    if (record.value === null) {
      // An unauthenticated tombstone: reported, never acted on.
      m?.rejected.inc({ class: 'MALFORMED', code: 'TOMBSTONE' });
      o.events?.emit({
        type: 'skipped',
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: 'TOMBSTONE',
        group: o.groupId,
      });
      return DONE;
    }
    this.#keys.refreshIfIdentityChanged();
    if (!o.directory.isFresh()) {
      this.#freshness.kick();
      return { kind: 'retry', afterMs: 1000, reason: 'directory-head-expired' };
    }
    const started = process.hrtime.bigint();
    let result;
    try {
      result = this.#opener!.open(record.value, record, entry.hooks);
    } catch (err) {
      if (err instanceof EnvelopeError) {
        if (err.code === 'UNKNOWN_SENDER') {
          // Wait only until a directory read that started after the record was written still lacks
          // the sender (then it is refused like any bad header), or the bounded wait is over.
          const since = entry.unknownSince.get(record.offset) ?? o.clock.nowMs();
          entry.unknownSince.set(record.offset, since);
          if (
            !this.#freshness.covers(this.#partitions!.writtenBeforeMs(record, entry)) &&
            o.clock.nowMs() - since < this.#s.unknownSenderWaitMs
          ) {
            this.#freshness.kick();
            return { kind: 'retry', afterMs: 200, reason: 'unknown-sender' };
          }
        }
        const outcome = await this.#route.deadLetter(record, err.coarse, err.code);
        if (outcome.kind === 'done') entry.unknownSince.delete(record.offset);
        return outcome;
      }
      return this.#route.unexpected(record, entry.unexpected, err, 'open');
    } finally {
      m?.openSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
    entry.unknownSince.delete(record.offset);
    switch (result.kind) {
      case 'not-addressed': {
        const addressing = classifyAddressing(result.slotKids, o.identity.name, o.directory);
        if (addressing.kind === 'ours-missing')
          return this.#recipientKeyMissing(record, entry, addressing.kid, reopened);
        if (
          addressing.kind === 'unknown-kid' &&
          !this.#freshness.covers(this.#partitions!.writtenBeforeMs(record, entry))
        ) {
          // Maybe a key of ours published after our last directory read: read it again first.
          this.#freshness.kick();
          return { kind: 'retry', afterMs: 200, reason: 'recipient-unknown' };
        }
        entry.keyMissingAlerted = null;
        m?.skippedNotAddressed.inc({ topic: record.topic });
        return DONE;
      }
      case 'throttled':
        return {
          kind: 'retry',
          afterMs: this.#admission.waitMs(entry.key),
          reason: 'admission',
        };
      case 'duplicate':
        m?.duplicates.inc({ topic: record.topic });
        o.events?.emit({
          type: 'duplicate',
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          group: o.groupId,
        });
        return DONE;
      case 'delivered':
        break;
    }
    const msg = result.message;
    // 9. Payload.
    let value: unknown;
    let schemaId: number | undefined;
    try {
      if (msg.contentType === AVRO_CONTENT_TYPE) {
        // SPEC §5 step 9: the writer schema by id, its fingerprint compared, and only then decoded
        // (a payload under a schema the sender did not seal is never handed to the decoder).
        schemaId = decodeConfluentFrame(msg.payload).schemaId;
        let fp = this.#schemaFps.get(schemaId);
        if (fp === undefined) {
          fp = schemaFingerprint(o.crypto, (await o.registry.getSchema(schemaId)).text);
          this.#schemaFps.set(schemaId, fp);
        }
        if (!o.crypto.equalConstantTime(fp, msg.schemaFp))
          return this.#route.deadLetter(record, 'SCHEMA', 'SCHEMA_MISMATCH');
        const reader = this.#s.readerSchemas?.[record.topic];
        value = (await o.registry.decode(msg.payload, reader === undefined ? {} : { reader }))
          .value;
      } else if (this.#s.rawContentTypes.includes(msg.contentType)) {
        let fp = this.#rawFps.get(msg.contentType);
        if (fp === undefined) {
          fp = rawContentFingerprint(o.crypto, msg.contentType);
          this.#rawFps.set(msg.contentType, fp);
        }
        if (!o.crypto.equalConstantTime(fp, msg.schemaFp))
          return this.#route.deadLetter(record, 'SCHEMA', 'SCHEMA_MISMATCH');
        value = Buffer.from(msg.payload);
      } else {
        return this.#route.deadLetter(record, 'PAYLOAD', 'PAYLOAD_INVALID');
      }
    } catch (err) {
      const verdict = routePayloadError(err);
      if (verdict.action === 'dead-letter')
        return this.#route.deadLetter(record, verdict.coarse, verdict.detail);
      if (verdict.action === 'unexpected')
        return this.#route.unexpected(record, entry.unexpected, err, 'payload');
      if (verdict.refusing)
        this.#logger.error(
          { err: describeError(err) },
          'schema registry refuses; partition paused until fixed',
        );
      return { kind: 'retry', afterMs: 1000, reason: verdict.reason };
    } finally {
      // The opened plaintext is no longer needed: decoded (Avro) or copied out (raw types).
      o.crypto.memzero(msg.payload);
    }
    // 10. Compacted topics under the policy: the entity version must grow per record key.
    let entityKey: string | undefined;
    if (record.key !== null && this.#s.entityVersionTopics.includes(record.topic)) {
      entityKey = hex(hash256(o.crypto, record.key));
      const last = entry.state.entityVersions.get(entityKey);
      if (msg.entityVersion < 1 || (last !== undefined && msg.entityVersion <= last))
        return this.#route.deadLetter(record, 'STALE', 'ENTITY_VERSION_STALE');
    }
    // 11. Deliver; mark only after the handler succeeded.
    const offset = BigInt(record.offset);
    try {
      await this.#partitions!.beforeHandOut(entry, offset);
    } catch (err) {
      return this.#route.transient(err, 'replay-state-write');
    }
    const attempts = entry.attempted.get(record.offset) ?? 0;
    const delivery: SealedDelivery = {
      value,
      sender: msg.senderIdentity,
      messageId: hex(msg.messageId),
      createdAtMs: msg.createdAtMs,
      schemaId,
      contentType: msg.contentType,
      idempotencyKey: `${this.#streamPrefix(msg.senderKid, msg.streamId)}${msg.partition}.${msg.seq}`,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      headers: record.headers,
      entityVersion: msg.entityVersion,
      redelivery: attempts > 0 || this.#partitions!.belowLoadedMark(entry, offset),
    };
    try {
      await this.#handler!(delivery);
    } catch (err) {
      entry.attempted.set(record.offset, attempts + 1);
      if (entry.attempted.size > 1000)
        entry.attempted.delete(entry.attempted.keys().next().value as string);
      this.#logger.warn(
        {
          err: describeError(err),
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
        },
        'handler failed; will redeliver',
      );
      return { kind: 'retry', afterMs: 0, reason: 'handler' };
    }
    entry.attempted.delete(record.offset);
    let window = entry.state.windows.get(msg.replayKey);
    if (window === undefined) {
      window = new ReplayWindow(o.clock.nowMs());
      entry.state.windows.set(msg.replayKey, window);
    }
    window.mark(msg.seq, o.clock.nowMs());
    if (entityKey !== undefined) entry.state.entityVersions.set(entityKey, msg.entityVersion);
    m?.opened.inc({ topic: record.topic });
    o.events?.emit({
      type: 'opened',
      messageId: delivery.messageId,
      sender: msg.senderIdentity,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      ...(schemaId === undefined ? {} : { schemaId }),
      ciphertextDigest: hex(hash256(o.crypto, record.value)),
      sizeBytes: record.value.length,
      group: o.groupId,
    });
    return DONE;
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
