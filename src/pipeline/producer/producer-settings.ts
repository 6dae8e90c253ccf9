/** The producer's options with every default resolved and checked once, at construction. */
import { integerOption, MAX_KAFKA_BYTES, MAX_TIMER_MS } from '../integer-option.js';
import { silentLogger, type PipelineLogger } from '../pipeline-logger.js';
import type { SealedProducerOptions } from './producer-types.js';

const MIN_REQUEST_BYTES = 1024;

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
  return {
    maxMessagesPerSession: integerOption(
      'maxMessagesPerSession',
      o.maxMessagesPerSession,
      10_000,
      1,
      0xffff_ffff,
    ),
    maxSessionAgeMs: integerOption('maxSessionAgeMs', o.maxSessionAgeMs, 3_600_000, 1),
    maxCiphertextBytes: integerOption(
      'maxCiphertextBytes',
      o.maxCiphertextBytes,
      1_048_576 + 65_536,
      1,
      MAX_KAFKA_BYTES,
    ),
    maxSendAttempts: integerOption('maxSendAttempts', o.maxSendAttempts, 5, 1),
    retryDelayMs: integerOption('retryDelayMs', o.retryDelayMs, 200, 0, MAX_TIMER_MS),
    // Below Kafka's default message.max.bytes (1,048,588), the bound of one record batch.
    maxRequestBytes: integerOption(
      'maxRequestBytes',
      o.maxRequestBytes,
      900 * 1024,
      MIN_REQUEST_BYTES,
      MAX_KAFKA_BYTES,
    ),
    maxRetryDelayMs: 10_000,
    envelopeSubject: o.envelopeSubject,
    logger: o.logger ?? silentLogger,
  };
}
