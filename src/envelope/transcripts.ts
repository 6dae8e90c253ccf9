/**
 * The byte strings that are signed, hashed and authenticated. Built from decoded values, never from
 * Avro bytes (docs/SPEC.md §Transcripts).
 */
import { writeU16, writeU32, writeU64 } from './bytes.js';
import {
  COMMIT_BYTES,
  KID_BYTES,
  NAMESPACE_BYTES,
  PRIVATE_PLAINTEXT_BYTES,
  SESSION_ID_BYTES,
  SIGNATURE_BYTES,
  STREAM_ID_BYTES,
} from './constants.js';
import type { SessionHeaderFields } from './envelope-codec.js';
import { LABELS } from './labels.js';

/**
 * `headerPublic = u8 version ‖ u8 suite ‖ sessionId ‖ namespace ‖ u16 |topic| ‖ topic ‖ u8 n ‖
 * (kid_i ‖ box_i)… ‖ commit` (box_i is 128 bytes in suite 1, 1,216 in suite 2). Field sizes must
 * already be validated.
 */
export function buildHeaderPublic(h: SessionHeaderFields): Uint8Array {
  const n = h.kids.length;
  let slotBytes = 0;
  for (let i = 0; i < n; i++) slotBytes += KID_BYTES + h.boxes[i]!.length;
  const out = new Uint8Array(
    2 + SESSION_ID_BYTES + NAMESPACE_BYTES + 2 + h.topic.length + 1 + slotBytes + COMMIT_BYTES,
  );
  let o = 0;
  out[o++] = h.version;
  out[o++] = h.suite;
  out.set(h.sessionId, o);
  o += SESSION_ID_BYTES;
  out.set(h.namespace, o);
  o += NAMESPACE_BYTES;
  o = writeU16(out, o, h.topic.length);
  for (let i = 0; i < h.topic.length; i++) out[o++] = h.topic.charCodeAt(i);
  out[o++] = n;
  for (let i = 0; i < n; i++) {
    out.set(h.kids[i]!, o);
    o += KID_BYTES;
    out.set(h.boxes[i]!, o);
    o += h.boxes[i]!.length;
  }
  out.set(h.commit, o);
  return out;
}

/** The session values kept under `private` (and signed). */
export interface SessionPrivateFields {
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly maxMessages: number;
  readonly flags: number;
  readonly streamId: Uint8Array;
}

/** Writes `u64 createdAt ‖ u64 expiresAt ‖ u32 maxMessages ‖ u8 flags ‖ streamId` at `off`. */
function writePrivateFields(out: Uint8Array, off: number, p: SessionPrivateFields): number {
  off = writeU64(out, off, p.createdAtMs);
  off = writeU64(out, off, p.expiresAtMs);
  off = writeU32(out, off, p.maxMessages);
  out[off++] = p.flags;
  out.set(p.streamId, off);
  return off + STREAM_ID_BYTES;
}

/**
 * `headerTBS = L(header-sig) ‖ headerPublic ‖ senderKid ‖ u64 createdAtMs ‖ u64 expiresAtMs ‖
 * u32 maxMessages ‖ u8 flags ‖ streamId`.
 */
export function buildHeaderTbs(
  headerPublic: Uint8Array,
  senderKid: Uint8Array,
  p: SessionPrivateFields,
): Uint8Array {
  const l = LABELS.headerSig;
  const out = new Uint8Array(
    l.length + headerPublic.length + KID_BYTES + 8 + 8 + 4 + 1 + STREAM_ID_BYTES,
  );
  out.set(l, 0);
  out.set(headerPublic, l.length);
  out.set(senderKid, l.length + headerPublic.length);
  writePrivateFields(out, l.length + headerPublic.length + KID_BYTES, p);
  return out;
}

/** The plaintext of `private`: the private fields then the header signature. */
export function buildPrivatePlaintext(p: SessionPrivateFields, sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(PRIVATE_PLAINTEXT_BYTES);
  const o = writePrivateFields(out, 0, p);
  out.set(sig, o);
  return out;
}

/** `L(header-public) ‖ headerPublic`, hashed to form the aad of `private`. */
export function privateAadInput(headerPublic: Uint8Array): Uint8Array {
  const l = LABELS.headerPublic;
  const out = new Uint8Array(l.length + headerPublic.length);
  out.set(l, 0);
  out.set(headerPublic, l.length);
  return out;
}

export const PRIVATE_SIG_OFFSET = PRIVATE_PLAINTEXT_BYTES - SIGNATURE_BYTES;
