import { copyBytes, isU53, readU16, readU32, readU64, writeU16, writeU32, writeU64 } from './bytes.js';
import { BODY_FIXED_BYTES, BODY_VERSION, MESSAGE_ID_BYTES, SCHEMA_FP_BYTES } from './constants.js';

/**
 * The sealed body: `u8 1 ‖ messageId[16] ‖ u64 createdAtMs ‖ u64 entityVersion ‖ schemaFp[16] ‖
 * u16 |contentType| ‖ contentType ‖ u32 |payload| ‖ payload`. No sender name: the sender is whoever
 * verified.
 */
export interface MessageBody {
  readonly messageId: Uint8Array;
  readonly createdAtMs: number;
  /** Monotonic version of the keyed entity for compacted topics; 0 = unused. */
  readonly entityVersion: number;
  readonly schemaFp: Uint8Array;
  readonly contentType: string;
  readonly payload: Uint8Array;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Body length for a given content-type byte length and payload length. */
export function bodyLength(contentTypeBytes: number, payloadBytes: number): number {
  return BODY_FIXED_BYTES + contentTypeBytes + payloadBytes;
}

/** Writes a body at `off` (sizes validated by the caller); returns the end offset. */
export function writeBody(
  buf: Uint8Array,
  off: number,
  messageId: Uint8Array,
  createdAtMs: number,
  entityVersion: number,
  schemaFp: Uint8Array,
  contentType: Uint8Array,
  payload: Uint8Array,
): number {
  buf[off++] = BODY_VERSION;
  buf.set(messageId, off);
  off += MESSAGE_ID_BYTES;
  off = writeU64(buf, off, createdAtMs);
  off = writeU64(buf, off, entityVersion);
  buf.set(schemaFp, off);
  off += SCHEMA_FP_BYTES;
  off = writeU16(buf, off, contentType.length);
  buf.set(contentType, off);
  off += contentType.length;
  off = writeU32(buf, off, payload.length);
  buf.set(payload, off);
  return off + payload.length;
}

/**
 * Parses a body that must fill `buf` exactly. Returns null on any deviation. Returned byte fields are
 * copies: the caller's scratch buffer is reused for the next message.
 */
export function parseBody(buf: Uint8Array): MessageBody | null {
  if (buf.length < BODY_FIXED_BYTES || buf[0] !== BODY_VERSION) return null;
  let off = 1;
  const messageId = copyBytes(buf, off, off + MESSAGE_ID_BYTES);
  off += MESSAGE_ID_BYTES;
  const createdAtMs = readU64(buf, off);
  const entityVersion = readU64(buf, off + 8);
  if (!isU53(createdAtMs) || !isU53(entityVersion)) return null;
  off += 16;
  const schemaFp = copyBytes(buf, off, off + SCHEMA_FP_BYTES);
  off += SCHEMA_FP_BYTES;
  const ctLen = readU16(buf, off);
  off += 2;
  if (ctLen > buf.length - off - 4) return null;
  let contentType: string;
  try {
    contentType = utf8Decoder.decode(buf.subarray(off, off + ctLen));
  } catch {
    return null;
  }
  off += ctLen;
  const payloadLen = readU32(buf, off);
  off += 4;
  if (payloadLen !== buf.length - off) return null;
  const payload = copyBytes(buf, off, off + payloadLen);
  return { messageId, createdAtMs, entityVersion, schemaFp, contentType, payload };
}
