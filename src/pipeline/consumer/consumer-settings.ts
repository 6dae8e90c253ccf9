/**
 * The consumer's options with every default resolved and checked once, at construction (the parts
 * read these numbers and never fall back to a default of their own). The defaults are the ones
 * docs/API.md documents for SealedConsumer.
 */
import { integerOption, MAX_KAFKA_BYTES, MAX_TIMER_MS } from '../integer-option.js';
import type { OpenPolicy } from '../../envelope/opened-session.js';
import type { TransportConsumerOptions } from '../../kafka/transport.js';
import type { AvroCodec } from '../../registry/avro-codec.js';
import { DEFAULT_ENVELOPE_SUBJECT } from '../envelope-schema.js';
import { silentLogger, type PipelineLogger } from '../pipeline-logger.js';
import type { SealedConsumerOptions } from './consumer-types.js';
import { restartPolicy, type RestartPolicy } from './restart-supervisor.js';

/** sealpost's session timeout and heartbeat interval (see `consumerOptions`). */
const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;

export interface ConsumerSettings {
  readonly logger: PipelineLogger;
  /** The transport consumer's options, defaults resolved (every restart uses the same). */
  readonly consumerOptions: TransportConsumerOptions;
  /** How often the batch loop heartbeats between records (ms). */
  readonly heartbeatMs: number;
  readonly restart: RestartPolicy;
  /** The opener's time rules. */
  readonly policy: OpenPolicy;
  readonly envelopeSubject: string;
  readonly deadLetterDetailRecipients: readonly string[];
  readonly maxCiphertextBytes: number;
  readonly partitionsConsumedConcurrently: number;
  /** Cap of the backoff between retries of a transient failure. */
  readonly maxRetryDelayMs: number;
  readonly replayStatePolicy: 'pause' | 'rebuild';
  readonly unknownSenderWaitMs: number;
  readonly windowIdleShrinkMs: number;
  /** `redeliveryMarkAhead`: the largest lead of the hand-out mark. */
  readonly maxMarkLead: number;
  readonly commitEveryRecords: number;
  /** Topic → reader schema; undefined when none is given. */
  readonly readerSchemas: Readonly<Record<string, AvroCodec>> | undefined;
  readonly rawContentTypes: readonly string[];
  readonly entityVersionTopics: readonly string[];
}

/** Checks the numeric options and resolves every default (throws ARGUMENT_INVALID naming the option). */
export function resolveConsumerSettings(o: SealedConsumerOptions): ConsumerSettings {
  const consumerOptions: TransportConsumerOptions = {
    sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
    heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
    ...o.consumerOptions,
    groupId: o.groupId,
  };
  return {
    logger: o.logger ?? silentLogger,
    consumerOptions,
    heartbeatMs: consumerOptions.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
    restart: restartPolicy(o.restart),
    policy: {
      skewMs: 60_000,
      horizonMs: 8 * 86_400_000,
      maxSessionLifetimeMs: 25 * 3_600_000,
      ...o.openPolicy,
    },
    envelopeSubject: o.envelopeSubject ?? DEFAULT_ENVELOPE_SUBJECT,
    deadLetterDetailRecipients: o.deadLetterDetailRecipients ?? ['audit', 'dead-letter-worker'],
    maxCiphertextBytes: integerOption(
      'maxCiphertextBytes',
      o.maxCiphertextBytes,
      1_048_576 + 65_536,
      1,
      MAX_KAFKA_BYTES,
    ),
    partitionsConsumedConcurrently: integerOption(
      'partitionsConsumedConcurrently',
      o.partitionsConsumedConcurrently,
      1,
      1,
    ),
    maxRetryDelayMs: integerOption('maxRetryDelayMs', o.maxRetryDelayMs, 10_000, 0, MAX_TIMER_MS),
    replayStatePolicy: o.replayStatePolicy ?? 'pause',
    unknownSenderWaitMs: integerOption(
      'unknownSenderWaitMs',
      o.unknownSenderWaitMs,
      30_000,
      0,
      MAX_TIMER_MS,
    ),
    windowIdleShrinkMs: integerOption('windowIdleShrinkMs', o.windowIdleShrinkMs, 3_600_000, 1),
    maxMarkLead: integerOption('redeliveryMarkAhead', o.redeliveryMarkAhead, 5000, 1),
    commitEveryRecords: integerOption('commitEveryRecords', o.commitEveryRecords, 500, 1),
    readerSchemas: o.readerSchemas,
    rawContentTypes: o.rawContentTypes ?? [],
    entityVersionTopics: o.entityVersionTopics ?? [],
  };
}
