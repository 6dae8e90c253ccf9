/**
 * Keys: identities and key files, the KMS port (OpenBao/Vault Transit, local keyring) with retry and
 * counting decorators, the signed key directory, the authorization policy, and lifecycle operations.
 * Named exports only.
 */
export { KeyError } from './key-error.js';
export type { KeyErrorCode } from './key-error.js';
export { computeKid, KID_BYTES } from './kid.js';
export type { KeyAlgorithm } from './kid.js';
export { assertIdentityName, IDENTITY_NAME_PATTERN, LoadedIdentity } from './identity.js';
export type { KeyGenerationState, LoadedKeyGeneration, UnwrappedKeyPair } from './identity.js';
export { IdentityReloader, identityFileSource } from './identity-source.js';
export type {
  IdentityReloaderOptions,
  IdentityReloadResult,
  IdentitySource,
} from './identity-source.js';
export {
  assertSameKms,
  destroyRetiredGenerations,
  generateIdentityFile,
  loadIdentity,
  parseIdentityFile,
  publicGenerations,
  readIdentityFile,
  rewrapIdentityFile,
  rotateIdentityFile,
  writeIdentityFile,
} from './identity-file.js';
export type {
  GenerateOptions,
  IdentityFile,
  IdentityFileGeneration,
  PublicKeyGeneration,
} from './identity-file.js';

export { wrappedKeyVersion } from './kms/kms.js';
export type { Kms, KmsKeyDescription, KmsReference, WrappedKey } from './kms/kms.js';
export { isKmsError, KmsError } from './kms/kms-error.js';
export type { KmsErrorCode } from './kms/kms-error.js';
export { RetryingKms } from './kms/retrying-kms.js';
export type { RetryingKmsOptions, RetryPolicy } from './kms/retrying-kms.js';
export { CountingKms } from './kms/counting-kms.js';
export type { KmsCallCounts } from './kms/counting-kms.js';
export { LocalKms } from './kms/local-kms.js';
export type { LocalKmsOptions } from './kms/local-kms.js';
export { OpenBaoTransitKms } from './kms/openbao-transit-kms.js';
export type { OpenBaoTransitKmsOptions, TransitAuth } from './kms/openbao-transit-kms.js';

export { DirectoryError } from './directory/directory-error.js';
export type { DirectoryErrorCode } from './directory/directory-error.js';
export {
  compareKeys,
  HEAD_KEY,
  headToBeSigned,
  parseSignedHead,
  parseSignedRecord,
  recordKeyOf,
  recordsDigest,
  recordToBeSigned,
  signedHeadToJson,
  signedRecordToJson,
  TOKEN_CLASS_PATTERN,
  TOPIC_PATTERN,
  topicMatches,
} from './directory/directory-record.js';
export type {
  DirectoryHead,
  DirectoryRecord,
  DirectoryStatus,
  SignedHead,
  SignedHeadJson,
  SignedRecord,
  SignedRecordJson,
} from './directory/directory-record.js';
export { DirectorySnapshot, validateSnapshot } from './directory/directory-snapshot.js';
export type {
  RawDirectoryEntry,
  RawDirectorySnapshot,
  RefusedEntry,
  ValidateOptions,
} from './directory/directory-snapshot.js';
export {
  documentEntries,
  FileDirectorySource,
  parseDirectoryDocument,
  readDirectoryDocument,
  snapshotToDocument,
  writeDirectoryDocument,
} from './directory/directory-document.js';
export type {
  DirectoryDocument,
  DirectoryFollowHandler,
  DirectoryFollowing,
  DirectorySource,
  DirectoryTopicSource,
  FollowableDirectorySource,
} from './directory/directory-document.js';
export { FileDirectoryStateStore } from './directory/directory-state.js';
export type { DirectoryStateStore } from './directory/directory-state.js';
export { DEFAULT_HEAD_TTL_MS, signDirectory } from './directory/directory-signer.js';
export type { DirectoryRecordDraft, SignDirectoryOptions } from './directory/directory-signer.js';
export { KeyDirectory } from './directory/key-directory.js';
export type {
  DirectoryAlert,
  KeyDirectoryOptions,
  RecipientKey,
  RecipientKemKey,
  SenderKey,
} from './directory/key-directory.js';
export {
  DirectorySenderResolver,
  usableOpeningKeys,
} from './directory/directory-sender-resolver.js';
export { isValidEd25519PublicKey, isValidX25519PublicKey } from './directory/public-key-checks.js';
export {
  checkXWingPublicKey,
  isValidXWingPublicKey,
  mlKemCoefficientsReduced,
} from './directory/xwing-public-key-checks.js';
export type { XWingPublicKeyVerdict } from './directory/xwing-public-key-checks.js';
export type { OpeningKey } from './directory/directory-sender-resolver.js';

export { DirectoryPolicy, PolicyError } from './policy.js';
export type { PolicyErrorCode } from './policy.js';
export {
  parseSuitePolicyText,
  SUITE_MODES,
  SuitePolicy,
  suitePolicyProblems,
} from './suite-policy.js';
export type { SuiteMode, SuitePolicyOptions } from './suite-policy.js';
export { ServiceKeys } from './service-keys.js';
export type { ServiceKeysOptions } from './service-keys.js';
export {
  authorityPublicKey,
  createIdentity,
  destroyRetired,
  initAuthority,
  listIdentities,
  openIdentity,
  publicKeyBase64,
  publishDirectory,
  revokeIdentity,
  rewrapIdentity,
  rotateIdentity,
  showDirectory,
  summarizeIdentity,
  summaryRecordKey,
  verifyDirectory,
} from './operations.js';
export type {
  DirectoryGrant,
  DirectoryLocation,
  DirectorySummary,
  IdentitySummary,
  KeyOpsContext,
} from './operations.js';
