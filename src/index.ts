/**
 * sealpost's public API: named exports only, exactly the list in docs/API.md "What the package
 * exports" (test/unit/api/public-exports.test.ts compares them). Applications embed SealedProducer and
 * SealedConsumer, built in one call from the service's configuration (`createSealpost`) or by hand from
 * the building blocks below. Test helpers are in `sealpost/testing` (src/testing.ts).
 */

// One-call setup from the configuration the CLI and workers use.
export { createSealpost } from './app/sealpost.js';
export type {
  CreateSealpostOptions,
  Sealpost,
  SealpostConsumerOptions,
  SealpostProducerOptions,
} from './app/sealpost.js';

// Producer and consumer.
export { SealedProducer, SendFailedError } from './pipeline/sealed-producer.js';
export type {
  OutgoingMessage,
  OutgoingRawMessage,
  RecordKey,
  SealedBatch,
  SealedProducerOptions,
  SendTarget,
  SentMessage,
  ValueTokenizer,
} from './pipeline/sealed-producer.js';
export { SealedConsumer } from './pipeline/sealed-consumer.js';
export type {
  SealedConsumerOptions,
  SealedDelivery,
  SealedMessageHandler,
} from './pipeline/sealed-consumer.js';
export type { AdmissionOptions, TokenRate } from './pipeline/admission-control.js';
export type { DeadLetterBreakerOptions } from './pipeline/dead-letter-breaker.js';
export { readEnvelopeSchemaText } from './pipeline/envelope-schema.js';
export type { PaddingPolicy } from './envelope/padding.js';
export type { OpenPolicy } from './envelope/opened-session.js';

// Building blocks.
export { createCryptoProvider } from './crypto/index.js';
export type { CryptoProvider, CryptoProviderName } from './crypto/index.js';
export { systemClock } from './runtime/clock.js';
export { KAFKAJS_INSTRUMENTATION_HOOKS, loadTracing, NO_TRACING } from './observability/tracing.js';
export type { SealpostTracing, TracingOptions } from './observability/tracing.js';
export type { Clock } from './runtime/clock.js';
export { createKafkajsTransport } from './kafka/kafkajs-transport.js';
export type { KafkajsTransportOptions } from './kafka/kafkajs-transport.js';
export type { Transport, TransportHeader, TopicPartition, TopicSpec } from './kafka/transport.js';
export { SchemaRegistryClient } from './registry/schema-registry-client.js';
export type {
  Compatibility,
  SchemaRegistryClientOptions,
} from './registry/schema-registry-client.js';
export { AvroCodec } from './registry/avro-codec.js';
export type { Kms } from './keys/kms/kms.js';
export { LocalKms } from './keys/kms/local-kms.js';
export { OpenBaoTransitKms } from './keys/kms/openbao-transit-kms.js';
export { RetryingKms } from './keys/kms/retrying-kms.js';
export { loadIdentity, readIdentityFile } from './keys/identity-file.js';
export type { IdentityFile } from './keys/identity-file.js';
export type { LoadedIdentity } from './keys/identity.js';
export { identityFileSource } from './keys/identity-source.js';
export type { IdentitySource } from './keys/identity-source.js';

// The key directory.
export { KeyDirectory } from './keys/directory/key-directory.js';
export type { DirectoryAlert, KeyDirectoryOptions } from './keys/directory/key-directory.js';
export { KafkaDirectoryTopic } from './keys/directory/directory-topic.js';
export type { KafkaDirectoryTopicOptions } from './keys/directory/directory-topic.js';
export { FileDirectorySource } from './keys/directory/directory-document.js';
export type { DirectorySource, DirectoryTopicSource } from './keys/directory/directory-document.js';
export { FileDirectoryStateStore } from './keys/directory/directory-state.js';
export type { DirectoryStateStore } from './keys/directory/directory-state.js';
// The envelope suite per topic (post-quantum sealing; docs/SECURITY.md).
export { SuitePolicy } from './keys/suite-policy.js';
export type { SuiteMode, SuitePolicyOptions } from './keys/suite-policy.js';

// Metadata events, dead letters, metrics and logs.
export {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
  MetadataEventEmitter,
} from './pipeline/metadata-event-emitter.js';
export type { MetadataEventEmitterOptions } from './pipeline/metadata-event-emitter.js';
export type { MetadataSink, PipelineEvent } from './pipeline/metadata-sink.js';
export { canonicalEventBytes, validateMetadataEvent } from './events/metadata-event.js';
export type { MetadataEvent, MetadataEventType } from './events/metadata-event.js';
export {
  DEAD_LETTER_HEADER,
  decodeDeadLetterMetadata,
  verifyDeadLetter,
} from './events/dead-letter.js';
export type { CoarseClass, DeadLetterMetadata } from './events/dead-letter.js';
export { PipelineMetrics } from './pipeline/pipeline-metrics.js';
export { PIPELINE_LOG_REDACT_PATHS } from './pipeline/pipeline-logger.js';
export type { PipelineLogger } from './pipeline/pipeline-logger.js';

// Field tokenization (docs/SPEC.md §10).
export { FieldTokenizer } from './tokenize/field-tokenizer.js';
export type { FieldTokenizerOptions } from './tokenize/field-tokenizer.js';
export { Detokenizer } from './tokenize/detokenizer.js';
export type {
  DetokenizeContext,
  DetokenizedValue,
  DetokenizerOptions,
} from './tokenize/detokenizer.js';
export { openTokenKeyring } from './tokenize/token-key-file.js';
export type { TokenKeyring } from './tokenize/token-keyring.js';

// Errors: one closed union of codes (docs/API.md "Error codes").
export { ConfigError, hasCode, isSealpostError, SealpostError } from './errors.js';
export type { ConfigErrorCode, Retriability } from './errors.js';
export type { SealpostErrorCode } from './error-codes.js';
export { isPipelineError, PipelineError } from './pipeline/pipeline-error.js';
export type { PipelineErrorCode } from './pipeline/pipeline-error.js';
export {
  ENVELOPE_ERROR_CLASSES,
  EnvelopeError,
  EnvelopeUsageError,
  isEnvelopeError,
} from './envelope/errors.js';
export type {
  EnvelopeCoarseClass,
  EnvelopeErrorCode,
  EnvelopeUsageErrorCode,
} from './envelope/errors.js';
export { CryptoError, isCryptoError } from './crypto/crypto-error.js';
export type { CryptoErrorCode } from './crypto/crypto-error.js';
export { isTransportError, TransportError } from './kafka/transport-error.js';
export type { TransportErrorCode } from './kafka/transport-error.js';
export { RegistryError } from './registry/registry-error.js';
export type { RegistryErrorCode } from './registry/registry-error.js';
export { AvroDecodeError, AvroEncodeError, AvroSchemaError } from './registry/avro-errors.js';
export type {
  AvroDecodeErrorCode,
  AvroEncodeErrorCode,
  AvroSchemaErrorCode,
} from './registry/avro-errors.js';
export { isKmsError, KmsError } from './keys/kms/kms-error.js';
export type { KmsErrorCode } from './keys/kms/kms-error.js';
export { KeyError } from './keys/key-error.js';
export type { KeyErrorCode } from './keys/key-error.js';
export { PolicyError } from './keys/policy.js';
export type { PolicyErrorCode } from './keys/policy.js';
export { DirectoryError } from './keys/directory/directory-error.js';
export type { DirectoryErrorCode } from './keys/directory/directory-error.js';
export { TokenizeError } from './tokenize/tokenize-error.js';
export type { TokenizeErrorCode } from './tokenize/tokenize-error.js';
