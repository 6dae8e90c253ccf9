/** The producer's options with every default resolved and checked once, at construction. */
import { invalidArgument } from '../../errors.js';
import { silentLogger, type PipelineLogger } from '../pipeline-logger.js';
import type { SealedProducerOptions } from './producer-types.js';

const MIN_REQUEST_BYTES = 1024;
/** Kafka's sizes are int32. */
const MAX_REQUEST_BYTES = 0x7fff_ffff;

export interface ProducerSettings {
  readonly maxMessagesPerSession: number;
  readonly maxSessionAgeMs: number;
  readonly maxCiphertextBytes: number;
  readonly maxSendAttempts: number;
  readonly retryDelayMs: number;
  /** Bound of the estimated size of one produce request: a larger send is split (request-chunks.ts). */
  readonly maxRequestBytes: number;
  /** Cap of the doubling retry delay. */
  readonly maxRetryDelayMs: number;
  readonly envelopeSubject: string | undefined;
  readonly logger: PipelineLogger;
}

export function resolveProducerSettings(o: SealedProducerOptions): ProducerSettings {
  const maxMessagesPerSession = o.maxMessagesPerSession ?? 10_000;
  if (
    !Number.isInteger(maxMessagesPerSession) ||
    maxMessagesPerSession < 1 ||
    maxMessagesPerSession > 0xffff_ffff
  )
    throw invalidArgument('maxMessagesPerSession must be an integer in [1, 2^32)');
  // Below Kafka's default message.max.bytes (1,048,588), the bound of one record batch.
  const maxRequestBytes = o.maxRequestBytes ?? 900 * 1024;
  if (
    !Number.isInteger(maxRequestBytes) ||
    maxRequestBytes < MIN_REQUEST_BYTES ||
    maxRequestBytes > MAX_REQUEST_BYTES
  )
    throw invalidArgument('maxRequestBytes must be an integer in [1,024, 2^31 - 1]');
  return {
    maxMessagesPerSession,
    maxSessionAgeMs: o.maxSessionAgeMs ?? 3_600_000,
    maxCiphertextBytes: o.maxCiphertextBytes ?? 1_048_576 + 65_536,
    maxSendAttempts: o.maxSendAttempts ?? 5,
    retryDelayMs: o.retryDelayMs ?? 200,
    maxRequestBytes,
    maxRetryDelayMs: 10_000,
    envelopeSubject: o.envelopeSubject,
    logger: o.logger ?? silentLogger,
  };
}
