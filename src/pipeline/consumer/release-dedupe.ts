/**
 * The release ids a partition's consumer group accepted (docs/SPEC.md §11.3 R5), each kept until its
 * release expires, and their bytes in the sealed replay state record:
 * `0x52 ‖ u32 n ‖ n × (releaseId[16] ‖ u64 expiresAtMs)`, written only when the set is non-empty.
 */
import { RELEASE_ID_BYTES } from '../../envelope/release-envelope.js';

/** Tag byte of the block; a hand-out mark (< 2^53) never starts with it, so the two cannot be confused. */
export const RELEASE_SET_TAG = 0x52;
/** Most entries a state record may carry (a decoder refuses more). */
export const MAX_RELEASE_ENTRIES = 100_000;
const ENTRY_BYTES = RELEASE_ID_BYTES + 8;

/** releaseId (hex) → expiresAtMs. */
export type ReleaseSet = Map<string, number>;

/** Drops the entries whose release has expired at `nowMs` (they are refused as RELEASE_EXPIRED anyway). */
export function pruneReleases(set: ReleaseSet, nowMs: number): void {
  for (const [id, expiresAtMs] of set) if (expiresAtMs < nowMs) set.delete(id);
}

/** The block for a state record; empty when there is nothing to keep. */
export function encodeReleaseSet(set: ReadonlyMap<string, number> | undefined): Uint8Array {
  if (set === undefined || set.size === 0) return new Uint8Array(0);
  const out = new Uint8Array(5 + set.size * ENTRY_BYTES);
  const dv = new DataView(out.buffer);
  out[0] = RELEASE_SET_TAG;
  dv.setUint32(1, set.size);
  let o = 5;
  for (const [id, expiresAtMs] of set) {
    out.set(Buffer.from(id, 'hex'), o);
    dv.setBigUint64(o + RELEASE_ID_BYTES, BigInt(expiresAtMs));
    o += ENTRY_BYTES;
  }
  return out;
}

/** Strict inverse of encodeReleaseSet for a non-empty block; undefined for anything malformed. */
export function decodeReleaseSet(bytes: Uint8Array): ReleaseSet | undefined {
  if (bytes.length < 5 || bytes[0] !== RELEASE_SET_TAG) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(1);
  if (n === 0 || n > MAX_RELEASE_ENTRIES || bytes.length !== 5 + n * ENTRY_BYTES) return undefined;
  const set: ReleaseSet = new Map();
  for (let o = 5; o < bytes.length; o += ENTRY_BYTES) {
    const id = Buffer.from(bytes.subarray(o, o + RELEASE_ID_BYTES)).toString('hex');
    const expiresAtMs = dv.getBigUint64(o + RELEASE_ID_BYTES);
    if (expiresAtMs > BigInt(Number.MAX_SAFE_INTEGER) || set.has(id)) return undefined;
    set.set(id, Number(expiresAtMs));
  }
  return set;
}
