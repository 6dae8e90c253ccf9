/** The pipeline's public surface (re-exported by src/index.ts). */
export { SealedProducer, SendFailedError } from './sealed-producer.js';
export type {
  OutgoingMessage,
  OutgoingRawMessage,
  RecordKey,
  SealedBatch,
  SealedProducerOptions,
  SendTarget,
  SentMessage,
} from './sealed-producer.js';
export { SealedConsumer } from './sealed-consumer.js';
export type {
  SealedConsumerOptions,
  SealedDelivery,
  SealedMessageHandler,
} from './sealed-consumer.js';
export {
  MetadataEventEmitter,
  METADATA_EVENTS_CONTENT_TYPE,
  decodeMetadataEventBatch,
} from './metadata-event-emitter.js';
export type { MetadataEventEmitterOptions } from './metadata-event-emitter.js';
export type { MetadataSink, PipelineEvent } from './metadata-sink.js';
export { PipelineError, isPipelineError } from './pipeline-error.js';
export type { PipelineErrorCode } from './pipeline-error.js';
export { PipelineMetrics } from './pipeline-metrics.js';
export { PIPELINE_LOG_REDACT_PATHS, silentLogger } from './pipeline-logger.js';
export type { PipelineLogger } from './pipeline-logger.js';
export { AVRO_CONTENT_TYPE, rawContentFingerprint } from './payload-content.js';
export {
  DEFAULT_ENVELOPE_SUBJECT,
  readEnvelopeSchemaText,
  registerEnvelopeSchema,
} from './envelope-schema.js';
export { AdmissionControl } from './admission-control.js';
export { CHEAP_FLOOD_CLASSES, DeadLetterBreaker } from './dead-letter-breaker.js';
export type { DeadLetterBreakerListener, DeadLetterBreakerOptions } from './dead-letter-breaker.js';
export type { AdmissionOptions, TokenRate } from './admission-control.js';
export { ReplayStateStore, parseStatePointer } from './replay-state-store.js';
