/**
 * sealpost's public API (named exports only). Applications embed SealedProducer and SealedConsumer
 * (docs/API.md); the other exports are what it takes to build them: a crypto provider, a Kafka
 * transport, a Schema Registry client, an identity unwrapped through a KMS, and the key directory.
 */
export * from './pipeline/index.js';

export { SealpostError, ConfigError, isSealpostError } from './errors.js';
export type { ConfigErrorCode } from './errors.js';
export { systemClock } from './runtime/clock.js';
export { KAFKAJS_INSTRUMENTATION_HOOKS, loadTracing, NO_TRACING } from './observability/tracing.js';
export type { SealpostTracing, TracingOptions } from './observability/tracing.js';
export type { Clock } from './runtime/clock.js';

export { createCryptoProvider, CryptoError, isCryptoError } from './crypto/index.js';
export type { CryptoProvider, CryptoProviderName, CryptoErrorCode } from './crypto/index.js';

export { createKafkajsTransport } from './kafka/kafkajs-transport.js';
export type { KafkajsTransportOptions } from './kafka/kafkajs-transport.js';
export { TransportError, isTransportError } from './kafka/transport-error.js';
export type { TransportErrorCode } from './kafka/transport-error.js';
export type { Transport, TransportHeader, TopicPartition, TopicSpec } from './kafka/transport.js';

export { SchemaRegistryClient } from './registry/schema-registry-client.js';
export type {
  SchemaRegistryClientOptions,
  Compatibility,
} from './registry/schema-registry-client.js';
export { AvroCodec } from './registry/avro-codec.js';
export { RegistryError } from './registry/registry-error.js';
export type { RegistryErrorCode } from './registry/registry-error.js';
export { AvroDecodeError, AvroEncodeError, AvroSchemaError } from './registry/avro-errors.js';

export { EnvelopeError, isEnvelopeError, ENVELOPE_ERROR_CLASSES } from './envelope/errors.js';
export type { EnvelopeCoarseClass, EnvelopeErrorCode } from './envelope/errors.js';
export type { PaddingPolicy } from './envelope/padding.js';

export { loadIdentity, readIdentityFile } from './keys/identity-file.js';
export type { IdentityFile } from './keys/identity-file.js';
export type { LoadedIdentity } from './keys/identity.js';
export { KeyDirectory } from './keys/directory/key-directory.js';
export type { DirectoryAlert, KeyDirectoryOptions } from './keys/directory/key-directory.js';
export { FileDirectoryStateStore } from './keys/directory/directory-state.js';
export type { DirectoryStateStore } from './keys/directory/directory-state.js';
export { FileDirectorySource } from './keys/directory/directory-document.js';
export type {
  DirectoryFollowHandler,
  DirectoryFollowing,
  DirectorySource,
  DirectoryTopicSource,
  FollowableDirectorySource,
} from './keys/directory/directory-document.js';
export { KafkaDirectoryTopic } from './kafka/directory-topic.js';
export type { KafkaDirectoryTopicOptions } from './kafka/directory-topic.js';
export { DirectoryError } from './keys/directory/directory-error.js';
export { DirectoryPolicy, PolicyError } from './keys/policy.js';
export type { PolicyErrorCode } from './keys/policy.js';
export type { Kms } from './keys/kms/kms.js';
export { LocalKms } from './keys/kms/local-kms.js';
export { OpenBaoTransitKms } from './keys/kms/openbao-transit-kms.js';
export { RetryingKms } from './keys/kms/retrying-kms.js';
export { KmsError } from './keys/kms/kms-error.js';
export { KeyError } from './keys/key-error.js';

export {
  DEAD_LETTER_HEADER,
  decodeDeadLetterMetadata,
  verifyDeadLetter,
} from './events/dead-letter.js';
export type { CoarseClass, DeadLetterMetadata } from './events/dead-letter.js';
export { validateMetadataEvent } from './events/metadata-event.js';
export type { MetadataEvent, MetadataEventType } from './events/metadata-event.js';

export * from './tokenize/index.js';
export * from './acl/index.js';
