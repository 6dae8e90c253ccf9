import { ACL_ERROR_CODES, ACL_NOT_SETTLED_ERROR_CODES } from './acl/acl-error.js';
import { AUDIT_WORKER_ERROR_CODES } from './audit/audit-worker.js';
import { CHECKPOINT_TOPIC_ERROR_CODES } from './audit/checkpoint-topic.js';
import { NOTE_ERROR_CODES } from './audit/signed-note.js';
import { AUDIT_STORE_ERROR_CODES } from './audit/audit-store.js';
import { CLI_ERROR_CODES } from './cli/program.js';
import { CRYPTO_ERROR_CODES } from './crypto/crypto-error.js';
import { RELEASE_ERROR_CODES } from './dlq/quarantine-release.js';
import {
  ENVELOPE_ERROR_CLASSES,
  ENVELOPE_USAGE_ERROR_CODES,
  envelopeRetriability,
  type EnvelopeErrorCode,
} from './envelope/errors.js';
import { CONFIG_ERROR_CODES, type Retriability } from './errors.js';
import { TRANSPORT_ERROR_CODES } from './kafka/transport-error.js';
import { DIRECTORY_ERROR_CODES } from './keys/directory/directory-error.js';
import { KEY_ERROR_CODES } from './keys/key-error.js';
import { KMS_ERROR_CODES } from './keys/kms/kms-error.js';
import { POLICY_ERROR_CODES } from './keys/policy.js';
import { PRIVATE_FILE_ERROR_CODES } from './keys/private-file.js';
import { PIPELINE_ERROR_CODES } from './pipeline/pipeline-error.js';
import {
  AVRO_DECODE_ERROR_CODES,
  AVRO_ENCODE_ERROR_CODES,
  AVRO_SCHEMA_ERROR_CODES,
} from './registry/avro-errors.js';
import { REGISTRY_ERROR_CODES } from './registry/registry-error.js';
import { POSTGRES_STORE_ERROR_CODES } from './stores/postgres-database.js';
import { TOKENIZE_ERROR_CODES } from './tokenize/tokenize-error.js';

/**
 * Every sealpost error code, by the error class that raises it (each module declares its codes once,
 * beside its class; this gathers them). No code belongs to two classes (test/unit/errors checks it),
 * so `switch (err.code)` over SealpostErrorCode is exhaustive and a misspelled code fails to compile.
 * docs/API.md "Error codes" is generated from this table and kept equal to it by that test.
 *
 * The envelope's rejection codes are the table of docs/SPEC.md §5.1 (ENVELOPE_ERROR_CLASSES).
 */
export const SEALPOST_ERROR_CODES = {
  ConfigError: CONFIG_ERROR_CODES,
  PipelineError: PIPELINE_ERROR_CODES,
  EnvelopeError: Object.fromEntries(
    (Object.keys(ENVELOPE_ERROR_CLASSES) as EnvelopeErrorCode[]).map((c) => [
      c,
      envelopeRetriability(c),
    ]),
  ) as Readonly<Record<EnvelopeErrorCode, Retriability>>,
  EnvelopeUsageError: ENVELOPE_USAGE_ERROR_CODES,
  CryptoError: CRYPTO_ERROR_CODES,
  TransportError: TRANSPORT_ERROR_CODES,
  RegistryError: REGISTRY_ERROR_CODES,
  AvroDecodeError: AVRO_DECODE_ERROR_CODES,
  AvroEncodeError: AVRO_ENCODE_ERROR_CODES,
  AvroSchemaError: AVRO_SCHEMA_ERROR_CODES,
  KmsError: KMS_ERROR_CODES,
  KeyError: KEY_ERROR_CODES,
  PrivateFileError: PRIVATE_FILE_ERROR_CODES,
  PolicyError: POLICY_ERROR_CODES,
  DirectoryError: DIRECTORY_ERROR_CODES,
  TokenizeError: TOKENIZE_ERROR_CODES,
  AclError: ACL_ERROR_CODES,
  AclNotSettledError: ACL_NOT_SETTLED_ERROR_CODES,
  AuditStoreError: AUDIT_STORE_ERROR_CODES,
  PostgresStoreError: POSTGRES_STORE_ERROR_CODES,
  AuditWorkerError: AUDIT_WORKER_ERROR_CODES,
  CheckpointTopicError: CHECKPOINT_TOPIC_ERROR_CODES,
  NoteError: NOTE_ERROR_CODES,
  QuarantineReleaseError: RELEASE_ERROR_CODES,
  CliExit: CLI_ERROR_CODES,
} as const;

/** The error classes that declare codes. */
export type SealpostErrorClassName = keyof typeof SEALPOST_ERROR_CODES;

/** The one closed union of every code a SealpostError can carry. */
export type SealpostErrorCode = {
  [C in SealpostErrorClassName]: keyof (typeof SEALPOST_ERROR_CODES)[C];
}[SealpostErrorClassName];
