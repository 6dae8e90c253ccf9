/**
 * Field tokenization: schema-driven tokens (deterministic, reversible with the class key) and masks
 * (one-way) for sensitive fields, versioned class keys wrapped by the KMS, and an audited, directory-
 * gated detokenize. See docs/SPEC.md §Tokenization. Named exports only.
 */
export { TokenizeError } from './tokenize-error.js';
export type { TokenizeErrorCode } from './tokenize-error.js';
export { MAX_TOKENIZED_VALUE_BYTES, TokenClassKey } from './token-cipher.js';
export type { TokenValueType } from './token-cipher.js';
export { formatToken, looksLikeToken, parseToken } from './token-string.js';
export type { ParsedToken, TokenMode } from './token-string.js';
export {
  CLASS_ANNOTATION,
  deriveTokenSchema,
  describePlan,
  TOKEN_ANNOTATION,
  TOKENIZE_ANNOTATION,
  tokenPlan,
} from './token-schema.js';
export type { RecordPlan, TokenFieldDescription } from './token-schema.js';
export { TokenKeyring } from './token-keyring.js';
export {
  addTokenClass,
  generateTokenKeyFile,
  loadTokenKeyring,
  openTokenKeyring,
  parseTokenKeyFile,
  readTokenKeyFile,
  rotateTokenClass,
  writeTokenKeyFile,
} from './token-key-file.js';
export type { TokenKeyContext, TokenKeyFile } from './token-key-file.js';
export { FieldTokenizer } from './field-tokenizer.js';
export type { FieldTokenizerOptions } from './field-tokenizer.js';
export { clearedClasses, Detokenizer } from './detokenizer.js';
export type {
  DetokenizeContext,
  DetokenizedValue,
  DetokenizerOptions,
  TokenAuditSink,
} from './detokenizer.js';
