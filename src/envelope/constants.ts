/** Format constants of sealpost v1 (docs/SPEC.md §Layout). */
export const ENVELOPE_VERSION = 1;
/** Suite 1: X25519 sealed boxes, Ed25519, XChaCha20-Poly1305-IETF, BLAKE2b. */
export const ENVELOPE_SUITE = 1;
/** Suite 2: as suite 1, but each slot is X-Wing (ML-KEM-768 + X25519) instead of a sealed box. */
export const ENVELOPE_SUITE_XWING = 2;
/** The suites a sealpost v1 envelope may carry (docs/SPEC.md §1). */
export type EnvelopeSuite = 1 | 2;

export const KID_BYTES = 16;
export const SESSION_ID_BYTES = 16;
export const NAMESPACE_BYTES = 16;
export const STREAM_ID_BYTES = 16;
export const MESSAGE_ID_BYTES = 16;
export const SCHEMA_FP_BYTES = 16;
export const SEED_BYTES = 32;
export const MAC_KEY_BYTES = 32;
export const COMMIT_BYTES = 32;
export const HASH_BYTES = 32;
export const TAG_BYTES = 16;
export const NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;
/** seed ‖ macKey ‖ senderKid, the plaintext of each recipient's sealed box. */
export const BOX_PLAINTEXT_BYTES = SEED_BYTES + MAC_KEY_BYTES + KID_BYTES; // 80
export const BOX_BYTES = BOX_PLAINTEXT_BYTES + 48; // 128
/** X25519 box public key of a suite-1 recipient. */
export const X25519_PUBLIC_KEY_BYTES = 32;
/** X-Wing public key (ML-KEM-768 1,184 ‖ X25519 32) of a suite-2 recipient. */
export const XWING_PUBLIC_KEY_BYTES = 1216;
/** X-Wing ciphertext (ML-KEM-768 1,088 ‖ X25519 32). */
export const XWING_CIPHERTEXT_BYTES = 1120;
/** X-Wing decapsulation key: the 32-byte seed. */
export const XWING_SEED_BYTES = 32;
/** X-Wing deterministic encapsulation seed (tests and vectors only). */
export const XWING_ESEED_BYTES = 64;
/** A suite-2 slot's box: X-Wing ciphertext ‖ AEAD(seed ‖ macKey ‖ senderKid) (docs/SPEC.md §2). */
export const XWING_BOX_BYTES = XWING_CIPHERTEXT_BYTES + BOX_PLAINTEXT_BYTES + 16; // 1216
/** createdAt u64 ‖ expiresAt u64 ‖ maxMessages u32 ‖ flags u8 ‖ streamId[16] ‖ sig[64]. */
export const PRIVATE_PLAINTEXT_BYTES = 8 + 8 + 4 + 1 + STREAM_ID_BYTES + SIGNATURE_BYTES; // 101
export const PRIVATE_BYTES = PRIVATE_PLAINTEXT_BYTES + AEAD_TAG_BYTES; // 117

export const MAX_RECIPIENTS = 16;
export const MAX_TOPIC_BYTES = 249;
/** seq < 2^53 so it is exact in a JavaScript number. */
export const MAX_SEQ_EXCLUSIVE = 2 ** 53;
/** The smallest ciphertext: AEAD tag + at least the padding byte. */
export const MIN_CIPHERTEXT_BYTES = AEAD_TAG_BYTES + 1;

/** Header flag bit 0: every message carries an Ed25519 signature inside its plaintext. */
export const FLAG_SIGN_EVERY_MESSAGE = 0x01;
export const KNOWN_FLAGS = FLAG_SIGN_EVERY_MESSAGE;

/** Body format byte of a body without extensions (docs/SPEC.md §2). */
export const BODY_VERSION = 1;
/** Body format byte of a body with a trailing extension block (docs/SPEC.md §2.1). */
export const BODY_VERSION_EXTENDED = 2;
/** Fixed part of the body: u8 1 ‖ messageId ‖ createdAt ‖ entityVersion ‖ schemaFp ‖ u16 ‖ u32. */
export const BODY_FIXED_BYTES = 1 + MESSAGE_ID_BYTES + 8 + 8 + SCHEMA_FP_BYTES + 2 + 4; // 55
/** A version-2 body adds `u16 |extensions|` after the payload. */
export const BODY_EXTENSIONS_LENGTH_BYTES = 2;
/** Extension type of the W3C trace context (docs/SPEC.md §2.1). */
export const BODY_EXT_TRACE_CONTEXT = 0x01;
/** Extension types with this bit set must be understood: an unknown one rejects the body. */
export const BODY_EXT_CRITICAL = 0x80;
/** Trace context value: u8 version 0 ‖ traceId[16] ‖ spanId[8] ‖ u8 traceFlags. */
export const TRACE_ID_BYTES = 16;
export const SPAN_ID_BYTES = 8;
export const TRACE_CONTEXT_BYTES = 1 + TRACE_ID_BYTES + SPAN_ID_BYTES + 1; // 26
export const MAX_CONTENT_TYPE_BYTES = 255;
