/**
 * One record, from the sealed envelope to the application's handler (docs/SPEC.md §5), failing
 * closed, in stages:
 *
 * 1. open: the envelope opener (decode → context → slot → header cache with admission tokens →
 *    header → tag → replay pre-check → decrypt); a record for someone else, an unknown sender or a
 *    key of ours the process has not loaded is decided here;
 * 2. decode: the payload (writer schema by id, its fingerprint compared before decoding, SPEC §5
 *    step 9; or a raw content type);
 * 3. check: what the record must satisfy beyond the envelope (the entity version of compacted topics
 *    under the policy);
 * 4. hand out: the hand-out mark first (partition state), then the handler; only after it returned
 *    is the replay window marked.
 *
 * Returns an outcome value (rejection-route.ts) and knows nothing of batches or the transport: the
 * rejection route is the one place that maps a failure to dead-letter, retry, pause or skip. A
 * further check a record must pass before it is handed out belongs in stage 3 (`#check`); the
 * handler call of stage 4 (`#callHandler`) is the one place a record reaches the application.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { hash256, schemaFingerprint } from '../../envelope/derive.js';
import type { EnvelopeOpener, OpenResult } from '../../envelope/envelope-opener.js';
import { EnvelopeError } from '../../envelope/errors.js';
import { isReleaseValue } from '../../envelope/release-envelope.js';
import type { OpenedMessage } from '../../envelope/opened-session.js';
import { ReplayWindow } from '../../envelope/replay-window.js';
import type { CoarseClass } from '../../events/dead-letter.js';
import type { ConsumedRecord } from '../../kafka/transport.js';
import { toHex as hex } from '../../keys/bytes.js';
import type { KeyDirectory } from '../../keys/directory/key-directory.js';
import {
  NO_TRACING,
  type ConsumeTrace,
  type SealpostTracing,
} from '../../observability/tracing.js';
import { confluentBody, confluentSchemaId } from '../../registry/confluent-wire-format.js';
import type { AvroCodec, AvroDecodeOptions } from '../../registry/avro-codec.js';
import type { SchemaRegistryClient } from '../../registry/schema-registry-client.js';
import type { Clock } from '../../runtime/clock.js';
import type { AdmissionControl } from '../admission-control.js';
import type { MetadataSink } from '../metadata-sink.js';
import { AVRO_CONTENT_TYPE, rawContentFingerprint } from '../payload-content.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import { classifyAddressing } from './addressing.js';
import type { ConsumerSettings } from './consumer-settings.js';
import type { SealedDelivery, SealedMessageHandler } from './consumer-types.js';
import type { DirectoryFreshness } from './directory-freshness.js';
import type { OpeningKeys } from './opening-keys.js';
import type { OpenedRelease, ReleaseAdmission } from './release-admission.js';
import type { PartitionEntry, PartitionStates } from './partition-state.js';
import {
  DELIVERED,
  routePayloadError,
  type RecordOutcome,
  type RejectionRoute,
} from './rejection-route.js';

export interface RecordProcessorOptions {
  readonly opener: Pick<EnvelopeOpener, 'open'>;
  /** The partition state: the hand-out mark, the loaded mark, when a record was written. */
  readonly partitions: {
    /** The hand-out mark: a promise only when it must be written or awaited first. */
    beforeHandOut(entry: PartitionEntry, offset: bigint): Promise<void> | undefined;
  } & Pick<PartitionStates, 'belowLoadedMark' | 'writtenBeforeMs'>;
  readonly route: RejectionRoute;
  readonly keys: Pick<
    OpeningKeys,
    'refreshIfIdentityChanged' | 'recover' | 'hasSource' | 'retryAfterMs'
  >;
  readonly freshness: Pick<DirectoryFreshness, 'kick' | 'covers'>;
  readonly admission: Pick<AdmissionControl, 'waitMs'>;
  readonly directory: KeyDirectory;
  /** Our identity's name (whose keys a not-addressed record may name). */
  readonly identity: string;
  /** The writer schemas (by id; a schema's text and codec never change for an id). */
  readonly registry: Pick<SchemaRegistryClient, 'getSchema'>;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly handler: SealedMessageHandler;
  readonly settings: Pick<
    ConsumerSettings,
    'logger' | 'unknownSenderWaitMs' | 'readerSchemas' | 'rawContentTypes' | 'entityVersionTopics'
  >;
  readonly metrics?: PipelineMetrics;
  readonly events?: MetadataSink;
  readonly groupId: string;
  readonly onAlert?: (alert: {
    readonly topic: string;
    readonly partition: number;
    readonly code: string;
  }) => void;
  /** OpenTelemetry (docs/TRACING.md); default: none. */
  readonly tracing?: SealpostTracing;
  /** Admits quarantine releases (docs/SPEC.md §11); without it a release is refused at decoding. */
  readonly releases?: Pick<ReleaseAdmission, 'open'>;
}

/** A stage that ended the record with an outcome (rare: nothing is allocated for a stage that passes). */
class Ended {
  constructor(readonly outcome: RecordOutcome) {}
}

/**
 * A record handed to the application: its handler was called and answered `handled` (its promise,
 * or whatever it returned). Whoever awaits it passes it on to RecordProcessor.handedOut (the replay
 * window marked) or, when it threw or rejected, to handlerFailed (retried). One object per record
 * instead of an async function's state, promise and await.
 */
export class HandOut {
  constructor(
    readonly handled: unknown,
    readonly record: ConsumedRecord,
    readonly ciphertext: Buffer,
    readonly entry: PartitionEntry,
    readonly msg: OpenedMessage,
    readonly delivery: SealedDelivery,
    readonly entityKey: string | undefined,
    readonly attempts: number,
  ) {}
}

/** A stage either passes its result on as it is or ends the record (an Ended). */
type Stage<T> = T | Ended;

const end = (outcome: RecordOutcome): Ended => new Ended(outcome);
const endLater = async (outcome: Promise<RecordOutcome>): Promise<Ended> => end(await outcome);

/**
 * A stage's answer now, or later when it had to wait (a registry fetch, a mark write, a dead-letter
 * write): `next` runs on it without a promise and a microtask when it is there now.
 */
const andThen = <T, R>(
  answer: T | Promise<T>,
  next: (value: T) => R | Promise<R>,
): R | Promise<R> => (answer instanceof Promise ? answer.then(next) : next(answer));

/** The decoded payload. */
interface Payload {
  readonly kind: 'payload';
  readonly value: unknown;
  /** The writer schema id; undefined for raw payloads. */
  readonly schemaId: number | undefined;
}

/** What decoding the payload gave, before it is routed. */
type Decoded =
  | Payload
  | { readonly kind: 'refused'; readonly coarse: CoarseClass; readonly code: string }
  | { readonly kind: 'failed'; readonly err: unknown };

const SCHEMA_MISMATCH: Decoded = { kind: 'refused', coarse: 'SCHEMA', code: 'SCHEMA_MISMATCH' };

/** Decoding without a reader schema (one options object, not one per record). */
const NO_READER: AvroDecodeOptions = {};

/** See the module comment. */
export class RecordProcessor {
  readonly #o: RecordProcessorOptions;
  readonly #logger: PipelineLogger;
  /** The writer schemas seen: their fingerprint and codec (SPEC §5 step 9). */
  readonly #schemas = new Map<number, { readonly fp: Uint8Array; readonly codec: AvroCodec }>();
  readonly #rawFps = new Map<string, Uint8Array>();
  #lastSenderKid: Uint8Array | undefined;
  #lastStreamId: Uint8Array | undefined;
  #lastPartition = -1;
  #lastStreamPrefix = '';
  /**
   * Messages delivered and not yet added to `sealpost_opened_total` (of `#openedTopic`): the counter
   * moves once per batch and heartbeat (flushOpened), not per record.
   */
  #openedPending = 0;
  #openedTopic = '';
  /**
   * `sealpost_open_seconds` bound once to its (empty) label set, the same series: prom-client's
   * `observe(value)` makes a closure and two objects per call, the bound child's a single object.
   */
  readonly #openSeconds: { observe(seconds: number): void } | undefined;
  /** The release a message was opened from (SPEC §11): accepted, not window-marked, once handled. */
  readonly #releaseOf = new WeakMap<OpenedMessage, OpenedRelease>();

  constructor(options: RecordProcessorOptions) {
    this.#o = options;
    this.#logger = options.settings.logger;
    this.#openSeconds = options.metrics?.openSeconds.labels({});
  }

  /**
   * Opens, checks, decodes and delivers `record` of the partition `entry` (at `offset`, its offset
   * parsed). Its trace span (if tracing is on) is the hand-out's, or made here for a record that
   * ended as a dead letter. The outcome comes without a promise when no stage had to wait (a record
   * skipped, a pause); a hand-out always waits for the handler.
   */
  process(
    record: ConsumedRecord,
    entry: PartitionEntry,
    offset: bigint = BigInt(record.offset),
  ): RecordOutcome | Promise<RecordOutcome> {
    const answer = this.begin(record, entry, offset);
    return answer instanceof HandOut ? this.#settle(answer) : answer;
  }

  /**
   * process() for the batch loop: on the usual path (no stage had to wait) it answers a HandOut,
   * the handler called, whose `handled` the caller awaits and then passes to handedOut() (or, if it
   * rejected, to handlerFailed()). No async function, promise or await of ours per record.
   */
  begin(
    record: ConsumedRecord,
    entry: PartitionEntry,
    offset: bigint,
  ): RecordOutcome | HandOut | Promise<RecordOutcome> {
    const tracing = this.#o.tracing ?? NO_TRACING;
    const trace = tracing.consume(record.topic, record.partition);
    const answer = this.#process(record, entry, offset, false, trace);
    // Untraced, a dead letter has no span to mark: the outcome goes back as it comes.
    if (!tracing.enabled || answer instanceof HandOut) return answer;
    return andThen(answer, (outcome) => {
      if (outcome.kind === 'dead-lettered') trace.rejected(outcome.coarse);
      return outcome;
    });
  }

  /** A hand-out's outcome once its handler answered (process() and the paths that waited). */
  async #settle(answer: RecordOutcome | HandOut | Promise<RecordOutcome>): Promise<RecordOutcome> {
    const a = await answer;
    if (!(a instanceof HandOut)) return a;
    try {
      await a.handled;
    } catch (err) {
      return this.handlerFailed(a, err);
    }
    return this.handedOut(a);
  }

  /**
   * The stages in order; each answers synchronously on its usual path (no promise and no microtask
   * per stage), and only a stage that must wait returns a promise.
   */
  #process(
    record: ConsumedRecord,
    entry: PartitionEntry,
    offset: bigint,
    reopened: boolean,
    trace: ConsumeTrace,
  ): RecordOutcome | HandOut | Promise<RecordOutcome> {
    const value = record.value;
    if (value === null) return this.#o.route.skip(record, 'TOMBSTONE');
    const opened = this.#open(record, value, entry, offset, reopened, trace);
    // A continuation closure only when the stage had to wait (no closure per record otherwise).
    return opened instanceof Promise
      ? opened.then((s) => this.#settle(this.#afterOpen(record, value, entry, offset, s, trace)))
      : this.#afterOpen(record, value, entry, offset, opened, trace);
  }

  /** Stages 2–4, once stage 1 answered. */
  #afterOpen(
    record: ConsumedRecord,
    value: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    opened: Stage<OpenedMessage>,
    trace: ConsumeTrace,
  ): RecordOutcome | HandOut | Promise<RecordOutcome> {
    if (opened instanceof Ended) return opened.outcome;
    const msg = opened;
    const payload = this.#decode(record, msg, entry);
    return payload instanceof Promise
      ? payload.then((s) =>
          this.#settle(this.#afterDecode(record, value, entry, offset, msg, s, trace)),
        )
      : this.#afterDecode(record, value, entry, offset, msg, payload, trace);
  }

  /** Stages 3–4, once stage 2 answered. */
  #afterDecode(
    record: ConsumedRecord,
    value: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    msg: OpenedMessage,
    payload: Stage<Payload>,
    trace: ConsumeTrace,
  ): RecordOutcome | HandOut | Promise<RecordOutcome> {
    if (payload instanceof Ended) return payload.outcome;
    const checked = this.#check(record, msg, entry);
    return checked instanceof Promise
      ? checked.then((s) =>
          s instanceof Ended
            ? s.outcome
            : this.#settle(this.#handOut(record, value, entry, offset, msg, payload, s, trace)),
        )
      : checked instanceof Ended
        ? checked.outcome
        : this.#handOut(record, value, entry, offset, msg, payload, checked, trace);
  }

  /**
   * Stage 1 (SPEC §5 steps 1–8): the opened message, or what became of a record not opened;
   * synchronous unless the record needs a wait or a write (a failure, a record not for us).
   */
  #open(
    record: ConsumedRecord,
    value: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    reopened: boolean,
    trace: ConsumeTrace,
  ): Stage<OpenedMessage> | Promise<Stage<OpenedMessage>> {
    const o = this.#o;
    o.keys.refreshIfIdentityChanged();
    if (!o.directory.isFresh()) {
      o.freshness.kick();
      return end({ kind: 'retry', afterMs: 1000, reason: 'directory-head-expired' });
    }
    const started = performance.now();
    let result: OpenResult;
    let release: OpenedRelease | undefined;
    try {
      // A quarantine release (docs/SPEC.md §11) carries the record; it is admitted by the release steps.
      if (o.releases !== undefined && isReleaseValue(value)) {
        release = o.releases.open(value, record, entry.state, entry.hooks);
        result = release.result;
      } else result = o.opener.open(value, record, entry.recordHooks);
    } catch (err) {
      return this.#notOpened(record, entry, err, started);
    }
    this.#openSeconds?.observe((performance.now() - started) / 1e3);
    entry.unknownSince.delete(record.offset);
    switch (result.kind) {
      case 'not-addressed':
        return this.#notAddressed(record, entry, offset, result.slotKids, reopened, trace);
      case 'throttled':
        return end({
          kind: 'pause',
          afterMs: o.admission.waitMs(entry.key),
          reason: 'admission',
        });
      case 'duplicate':
        return end(o.route.skip(record, 'DUPLICATE'));
      case 'delivered':
        if (release !== undefined) this.#releaseOf.set(result.message, release);
        return result.message;
    }
  }

  /**
   * Stage 1, the opener threw: wait for an unknown sender, else dead-letter (or unexpected). The
   * open time observed ends when this does (as it always has for a record not opened).
   */
  async #notOpened(
    record: ConsumedRecord,
    entry: PartitionEntry,
    err: unknown,
    started: number,
  ): Promise<Stage<OpenedMessage>> {
    try {
      return await this.#refuseUnopened(record, entry, err);
    } finally {
      this.#openSeconds?.observe((performance.now() - started) / 1e3);
    }
  }

  async #refuseUnopened(
    record: ConsumedRecord,
    entry: PartitionEntry,
    err: unknown,
  ): Promise<Stage<OpenedMessage>> {
    const o = this.#o;
    if (err instanceof EnvelopeError) {
      if (err.code === 'UNKNOWN_SENDER') {
        // Wait only until a directory read that started after the record was written still lacks
        // the sender (then it is refused like any bad header), or the bounded wait is over.
        const since = entry.unknownSince.get(record.offset) ?? o.clock.nowMs();
        entry.unknownSince.set(record.offset, since);
        if (
          !o.freshness.covers(o.partitions.writtenBeforeMs(record, entry)) &&
          o.clock.nowMs() - since < o.settings.unknownSenderWaitMs
        ) {
          o.freshness.kick();
          return end({ kind: 'retry', afterMs: 200, reason: 'unknown-sender' });
        }
      }
      const outcome = await o.route.deadLetter(record, err.coarse, err.code);
      if (outcome.kind === 'dead-lettered') entry.unknownSince.delete(record.offset);
      return end(outcome);
    }
    return end(await o.route.unexpected(record, entry.unexpected, err, 'open'));
  }

  /** Stage 1, a record not addressed to our keys: ours but not loaded, maybe ours, or skipped. */
  #notAddressed(
    record: ConsumedRecord,
    entry: PartitionEntry,
    offset: bigint,
    slotKids: Extract<OpenResult, { kind: 'not-addressed' }>['slotKids'],
    reopened: boolean,
    trace: ConsumeTrace,
  ): Stage<OpenedMessage> | Promise<Stage<OpenedMessage>> {
    const o = this.#o;
    const addressing = classifyAddressing(slotKids, o.identity, o.directory);
    if (addressing.kind === 'ours-missing')
      return endLater(
        this.#recipientKeyMissing(record, entry, offset, addressing.kid, reopened, trace),
      );
    if (
      addressing.kind === 'unknown-kid' &&
      !o.freshness.covers(o.partitions.writtenBeforeMs(record, entry))
    ) {
      // Maybe a key of ours published after our last directory read: read it again first.
      o.freshness.kick();
      return end({ kind: 'retry', afterMs: 200, reason: 'recipient-unknown' });
    }
    entry.keyMissingAlerted = null;
    return end(o.route.skip(record, 'NOT_ADDRESSED'));
  }

  /**
   * A record addressed to a box key the directory lists for our identity, which the opener lacks (a
   * rotation): reload the identity through its source and open the record; if that is not possible,
   * the partition waits and alerts. Never skipped, never dead-lettered.
   */
  async #recipientKeyMissing(
    record: ConsumedRecord,
    entry: PartitionEntry,
    offset: bigint,
    kid: string,
    reopened: boolean,
    trace: ConsumeTrace,
  ): Promise<RecordOutcome> {
    const o = this.#o;
    if (!reopened && (await o.keys.recover()))
      return this.#settle(this.#process(record, entry, offset, true, trace));
    if (entry.keyMissingAlerted !== record.offset) {
      entry.keyMissingAlerted = record.offset;
      this.#logger.warn(
        {
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          kid,
          identitySource: o.keys.hasSource,
        },
        'record addressed to a key of ours that is not loaded; partition waits',
      );
      o.onAlert?.({
        topic: record.topic,
        partition: record.partition,
        code: 'RECIPIENT_KEY_MISSING',
      });
    }
    return { kind: 'retry', afterMs: o.keys.retryAfterMs(), reason: 'recipient-key-missing' };
  }

  /**
   * Stage 2 (SPEC §5 step 9): the payload decoded. The opened plaintext is zeroed as soon as it is
   * decoded (Avro) or copied out (raw types), before any dead-letter write. Synchronous once the
   * writer schema is known.
   */
  #decode(
    record: ConsumedRecord,
    msg: OpenedMessage,
    entry: PartitionEntry,
  ): Stage<Payload> | Promise<Stage<Payload>> {
    let decoded: Decoded | Promise<Decoded>;
    try {
      decoded = this.#decodePayload(record, msg);
    } catch (err) {
      decoded = { kind: 'failed', err };
    }
    if (decoded instanceof Promise) return this.#decodeLater(record, msg, entry, decoded);
    this.#o.crypto.memzero(msg.payload);
    return this.#routeDecoded(record, entry, decoded);
  }

  /** Stage 2 after the writer schema was fetched. */
  async #decodeLater(
    record: ConsumedRecord,
    msg: OpenedMessage,
    entry: PartitionEntry,
    pending: Promise<Decoded>,
  ): Promise<Stage<Payload>> {
    let decoded: Decoded;
    try {
      decoded = await pending;
    } catch (err) {
      decoded = { kind: 'failed', err };
    } finally {
      this.#o.crypto.memzero(msg.payload);
    }
    return this.#routeDecoded(record, entry, decoded);
  }

  /** Stage 2's verdict: the payload passed on, or the record dead-lettered or retried. */
  #routeDecoded(
    record: ConsumedRecord,
    entry: PartitionEntry,
    decoded: Decoded,
  ): Stage<Payload> | Promise<Stage<Payload>> {
    const o = this.#o;
    switch (decoded.kind) {
      case 'payload':
        return decoded;
      case 'refused':
        return endLater(o.route.deadLetter(record, decoded.coarse, decoded.code));
      case 'failed': {
        const verdict = routePayloadError(decoded.err);
        if (verdict.action === 'dead-letter')
          return endLater(o.route.deadLetter(record, verdict.coarse, verdict.detail));
        if (verdict.action === 'unexpected')
          return endLater(o.route.unexpected(record, entry.unexpected, decoded.err, 'payload'));
        if (verdict.refusing)
          this.#logger.error(
            { err: describeError(decoded.err) },
            'schema registry refuses; partition paused until fixed',
          );
        return end({ kind: 'retry', afterMs: 1000, reason: verdict.reason });
      }
    }
  }

  /**
   * The payload under its content type; a fingerprint that does not match is the record's fault.
   * A promise only when the writer schema must be fetched first.
   */
  #decodePayload(record: ConsumedRecord, msg: OpenedMessage): Decoded | Promise<Decoded> {
    const o = this.#o;
    const s = o.settings;
    if (msg.contentType === AVRO_CONTENT_TYPE) {
      // The writer schema by id, its fingerprint compared, and only then decoded (a payload under a
      // schema the sender did not seal is never handed to the decoder).
      const schemaId = confluentSchemaId(msg.payload);
      const schema = this.#schemas.get(schemaId);
      if (schema === undefined) return this.#fetchSchemaThenDecode(record, msg, schemaId);
      if (!o.crypto.equalConstantTime(schema.fp, msg.schemaFp)) return SCHEMA_MISMATCH;
      // An own property only: a topic may be named `constructor` or `toString` (legal Kafka names).
      const reader =
        s.readerSchemas !== undefined && Object.hasOwn(s.readerSchemas, record.topic)
          ? s.readerSchemas[record.topic]
          : undefined;
      // The codec checks the limits (size first) before it decodes.
      const body = confluentBody(msg.payload);
      const value = schema.codec.decode(body, reader === undefined ? NO_READER : { reader });
      return { kind: 'payload', value, schemaId };
    }
    if (s.rawContentTypes.includes(msg.contentType)) {
      let fp = this.#rawFps.get(msg.contentType);
      if (fp === undefined) {
        fp = rawContentFingerprint(o.crypto, msg.contentType);
        this.#rawFps.set(msg.contentType, fp);
      }
      if (!o.crypto.equalConstantTime(fp, msg.schemaFp)) return SCHEMA_MISMATCH;
      return { kind: 'payload', value: Buffer.from(msg.payload), schemaId: undefined };
    }
    return { kind: 'refused', coarse: 'PAYLOAD', code: 'PAYLOAD_INVALID' };
  }

  /** A writer schema not seen yet: fetched (and remembered), then the payload decoded under it. */
  async #fetchSchemaThenDecode(
    record: ConsumedRecord,
    msg: OpenedMessage,
    schemaId: number,
  ): Promise<Decoded> {
    const o = this.#o;
    const schema = await o.registry.getSchema(schemaId);
    if (!this.#schemas.has(schemaId))
      this.#schemas.set(schemaId, {
        fp: schemaFingerprint(o.crypto, schema.text),
        codec: schema.codec,
      });
    return this.#decodePayload(record, msg);
  }

  /**
   * Stage 3: checks beyond the envelope. Compacted topics under the policy: the entity version must
   * grow per record key. Passes on the hex H(record key) to record the version under (undefined
   * when the topic is not under the policy).
   */
  #check(
    record: ConsumedRecord,
    msg: OpenedMessage,
    entry: PartitionEntry,
  ): Stage<string | undefined> | Promise<Stage<string | undefined>> {
    const o = this.#o;
    if (record.key === null || !o.settings.entityVersionTopics.includes(record.topic))
      return undefined;
    const entityKey = hex(hash256(o.crypto, record.key));
    const last = entry.state.entityVersions.get(entityKey);
    if (msg.entityVersion < 1 || (last !== undefined && msg.entityVersion <= last))
      return endLater(o.route.deadLetter(record, 'STALE', 'ENTITY_VERSION_STALE'));
    return entityKey;
  }

  /**
   * Stage 4 (SPEC §5, after step 9): the hand-out mark, then the handler called (a HandOut; the
   * replay window is marked by handedOut() once it returned). A promise only when the mark must be
   * written (or a write awaited) first.
   */
  #handOut(
    record: ConsumedRecord,
    ciphertext: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    msg: OpenedMessage,
    payload: Payload,
    entityKey: string | undefined,
    trace: ConsumeTrace,
  ): RecordOutcome | HandOut | Promise<RecordOutcome> {
    let marked: Promise<void> | undefined;
    try {
      marked = this.#o.partitions.beforeHandOut(entry, offset);
    } catch (err) {
      return this.#o.route.transient(err, 'replay-state-write');
    }
    if (marked === undefined)
      return this.#callHandler(record, ciphertext, entry, offset, msg, payload, entityKey, trace);
    return this.#handOutAfterMark(
      marked,
      record,
      ciphertext,
      entry,
      offset,
      msg,
      payload,
      entityKey,
      trace,
    );
  }

  /** Stage 4 once the hand-out mark was written. */
  async #handOutAfterMark(
    marked: Promise<void>,
    record: ConsumedRecord,
    ciphertext: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    msg: OpenedMessage,
    payload: Payload,
    entityKey: string | undefined,
    trace: ConsumeTrace,
  ): Promise<RecordOutcome> {
    try {
      await marked;
    } catch (err) {
      return this.#o.route.transient(err, 'replay-state-write');
    }
    return this.#settle(
      this.#callHandler(record, ciphertext, entry, offset, msg, payload, entityKey, trace),
    );
  }

  /** Stage 4, the mark written: the delivery made and handed to the handler. */
  #callHandler(
    record: ConsumedRecord,
    ciphertext: Buffer,
    entry: PartitionEntry,
    offset: bigint,
    msg: OpenedMessage,
    payload: Payload,
    entityKey: string | undefined,
    trace: ConsumeTrace,
  ): RecordOutcome | HandOut {
    const o = this.#o;
    // Checked last before the hand-out (the mark write above may have waited): a member past its
    // membership lease hands out nothing (docs/OPERATIONS.md "Under faults", group-members).
    if (entry.stale?.() === true) return { kind: 'retry', afterMs: 0, reason: 'membership' };
    // Nearly always empty: no lookup (and no hash of a new offset string) per record.
    const attempts = entry.attempted.size === 0 ? 0 : (entry.attempted.get(record.offset) ?? 0);
    const delivery: SealedDelivery = {
      value: payload.value,
      sender: msg.senderIdentity,
      messageId: hex(msg.messageId),
      createdAtMs: msg.createdAtMs,
      schemaId: payload.schemaId,
      contentType: msg.contentType,
      idempotencyKey: this.#streamPrefix(msg.senderKid, msg.streamId, msg.partition) + msg.seq,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      headers: record.headers,
      entityVersion: msg.entityVersion,
      redelivery: attempts > 0 || o.partitions.belowLoadedMark(entry, offset),
    };
    let handled: unknown;
    try {
      // Untraced, the handler is called as it is (no closure per record).
      handled =
        o.tracing?.enabled === true
          ? trace.handOut(msg, () => o.handler(delivery))
          : o.handler(delivery);
    } catch (err) {
      return this.#handlerFailed(record, entry, attempts, err);
    }
    return new HandOut(handled, record, ciphertext, entry, msg, delivery, entityKey, attempts);
  }

  /** The handler of `h` returned: the record is delivered (the replay window marked). */
  handedOut(h: HandOut): RecordOutcome {
    if (h.attempts > 0) h.entry.attempted.delete(h.record.offset);
    this.#delivered(h.record, h.ciphertext, h.entry, h.msg, h.delivery, h.entityKey);
    return DELIVERED;
  }

  /** The handler of `h` threw or rejected with `err`: the record is retried (and redelivered). */
  handlerFailed(h: HandOut, err: unknown): RecordOutcome {
    return this.#handlerFailed(h.record, h.entry, h.attempts, err);
  }

  #handlerFailed(
    record: ConsumedRecord,
    entry: PartitionEntry,
    attempts: number,
    err: unknown,
  ): RecordOutcome {
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

  /** The handler returned: mark the replay window (and entity version), count and report. */
  #delivered(
    record: ConsumedRecord,
    ciphertext: Buffer,
    entry: PartitionEntry,
    msg: OpenedMessage,
    delivery: SealedDelivery,
    entityKey: string | undefined,
  ): void {
    const o = this.#o;
    const release = this.#releaseOf.get(msg);
    if (release !== undefined) {
      // SPEC §6 exception: the release id is kept; no window is created or slid for it.
      this.#releaseOf.delete(msg);
      release.accepted(entry.state, msg);
    } else {
      let window = entry.state.windows.get(msg.replayKey);
      if (window === undefined) {
        window = new ReplayWindow(o.clock.nowMs());
        entry.state.windows.set(msg.replayKey, window);
      }
      window.mark(msg.seq, o.clock.nowMs());
    }
    if (entityKey !== undefined) entry.state.entityVersions.set(entityKey, msg.entityVersion);
    if (o.metrics !== undefined) {
      if (record.topic !== this.#openedTopic) {
        this.flushOpened();
        this.#openedTopic = record.topic;
      }
      this.#openedPending++;
    }
    o.events?.emit({
      type: 'opened',
      messageId: delivery.messageId,
      sender: msg.senderIdentity,
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      ...(delivery.schemaId === undefined ? {} : { schemaId: delivery.schemaId }),
      ciphertextDigest: hex(hash256(o.crypto, ciphertext)),
      sizeBytes: ciphertext.length,
      group: o.groupId,
      ...(msg.suite === 2 ? { suite: 2 } : {}),
    });
  }

  /**
   * Adds the messages delivered since the last call to `sealpost_opened_total` (one prom-client call
   * for many records). The batch loop calls it at the end of every batch and at every heartbeat, so
   * the counter trails the hand-outs by at most a heartbeat interval.
   */
  flushOpened(): void {
    if (this.#openedPending === 0) return;
    this.#o.metrics?.opened.inc({ topic: this.#openedTopic }, this.#openedPending);
    this.#openedPending = 0;
  }

  /** `<senderKid hex>.<streamId hex>.<partition>.` of the idempotency key, for the last stream seen. */
  #streamPrefix(senderKid: Uint8Array, streamId: Uint8Array, partition: number): string {
    // An opened session hands out the same two arrays for every message: compare by identity.
    if (
      senderKid !== this.#lastSenderKid ||
      streamId !== this.#lastStreamId ||
      partition !== this.#lastPartition
    ) {
      this.#lastSenderKid = senderKid;
      this.#lastStreamId = streamId;
      this.#lastPartition = partition;
      this.#lastStreamPrefix = `${hex(senderKid)}.${hex(streamId)}.${partition}.`;
    }
    return this.#lastStreamPrefix;
  }
}
