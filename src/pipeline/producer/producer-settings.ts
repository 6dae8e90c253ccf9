/** The producer's options with every default resolved and checked once, at construction. */
import { invalidArgument } from '../../errors.js';
import { silentLogger, type PipelineLogger } from '../pipeline-logger.js';
import type { SealedProducerOptions } from './producer-types.js';

export interface ProducerSettings {
  readonly maxMessagesPerSession: number;
  readonly maxSessionAgeMs: number;
  readonly maxCiphertextBytes: number;
  readonly maxSendAttempts: number;
  readonly retryDelayMs: number;
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
  return {
    maxMessagesPerSession,
    maxSessionAgeMs: o.maxSessionAgeMs ?? 3_600_000,
    maxCiphertextBytes: o.maxCiphertextBytes ?? 1_048_576 + 65_536,
    maxSendAttempts: o.maxSendAttempts ?? 5,
    retryDelayMs: o.retryDelayMs ?? 200,
    maxRetryDelayMs: 10_000,
    envelopeSubject: o.envelopeSubject,
    logger: o.logger ?? silentLogger,
  };
}
