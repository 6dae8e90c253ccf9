/**
 * sealpost envelope core (docs/SPEC.md): pure, no I/O, no clock or randomness except what is passed in.
 */
export * from './constants.js';
export {
  ENVELOPE_ERROR_CLASSES,
  EnvelopeError,
  EnvelopeUsageError,
  isEnvelopeError,
} from './errors.js';
export type { EnvelopeCoarseClass, EnvelopeErrorCode, EnvelopeUsageErrorCode } from './errors.js';
export {
  LABELS,
  label,
  KDF_CONTEXT,
  KDF_ID_COMMIT,
  KDF_ID_MESSAGE_KEY,
  KDF_ID_PRIVATE_KEY,
} from './labels.js';
export {
  hash128,
  hash256,
  kdf,
  keyBinding,
  kid,
  mac16,
  schemaFingerprint,
  concatBytes,
  xwingSlotKey,
} from './derive.js';
export type { KidAlgorithm } from './derive.js';
export {
  CONFLUENT_MAGIC,
  decodeEnvelope,
  EnvelopeDecoder,
  encodeEnvelope,
  encodeSessionHeader,
  isValidTopic,
  slotBoxBytes,
} from './envelope-codec.js';
export type {
  DecodedEnvelope,
  EnvelopeDecodeLimits,
  EnvelopeFields,
  SessionHeaderFields,
} from './envelope-codec.js';
export { DEFAULT_PADDING, paddedLength, padmeLength } from './padding.js';
export type { PaddingPolicy } from './padding.js';
export type { BodyTraceContext, MessageBody } from './body.js';
export { createSealingSession, SealingSession } from './sealing-session.js';
export type {
  RecipientPublicKey,
  SealedMessage,
  SealingSessionOptions,
  SealInput,
} from './sealing-session.js';
export { SequenceCounter } from './sequence-counter.js';
export type { DirectoryKeyStatus, SenderRecord, SenderResolver } from './sender-resolver.js';
export { checkSender, findSlot, openSessionHeader } from './open-session-header.js';
export type {
  OpenHeaderOptions,
  RecipientKeyPair,
  SlotMatch,
  XWingKeySource,
} from './open-session-header.js';
export { OpenedSession } from './opened-session.js';
export type {
  OpenedMessage,
  OpenMessageResult,
  OpenPolicy,
  RecordContext,
} from './opened-session.js';
export { REPLAY_WINDOW_BITS, ReplayWindow, replayKeyOf } from './replay-window.js';
export type { ReplayVerdict } from './replay-window.js';
export { HeaderCache, isCacheableRejection } from './header-cache.js';
export type { CachedSession, HeaderCacheOptions } from './header-cache.js';
export { EnvelopeOpener } from './envelope-opener.js';
export type { EnvelopeOpenerOptions, OpenHooks, OpenResult } from './envelope-opener.js';
