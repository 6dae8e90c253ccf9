import type { CryptoProvider } from '../crypto/provider.js';
import { label } from '../envelope/labels.js';

/**
 * The audit log is a hash chain: entry i commits to entry i−1, so editing, deleting, inserting or
 * reordering any stored entry changes every later hash. Signed checkpoints (audit-checkpoint.ts) pin
 * the head so that a writer who rewrites the whole tail is caught too.
 *
 *   entryHash_i = H(L("audit-entry") ‖ u64 i ‖ prevHash_i ‖ u32 |event| ‖ event)
 *   prevHash_0  = H(L("audit-genesis"))
 */
export const HASH_BYTES = 32;

const ENTRY_LABEL = label('audit-entry');
const GENESIS_LABEL = label('audit-genesis');

/** One stored row of the log, as any store keeps it. */
export interface AuditEntry {
  /** 0-based position in the log. */
  readonly index: number;
  readonly prevHash: Uint8Array;
  readonly entryHash: Uint8Array;
  /** Canonical event bytes (metadata-event.ts `canonicalEventBytes`). */
  readonly event: Uint8Array;
}

export function genesisHash(crypto: CryptoProvider): Uint8Array {
  const out = new Uint8Array(HASH_BYTES);
  crypto.hash(out, GENESIS_LABEL);
  return out;
}

export function computeEntryHash(
  crypto: CryptoProvider,
  index: number,
  prevHash: Uint8Array,
  event: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError('index out of range');
  if (prevHash.length !== HASH_BYTES) throw new RangeError('prevHash must be 32 bytes');
  // One buffer, one hash call: the verifier runs this once per entry of the whole log.
  const input = new Uint8Array(ENTRY_LABEL.length + 8 + HASH_BYTES + 4 + event.length);
  const view = new DataView(input.buffer);
  let o = ENTRY_LABEL.length;
  input.set(ENTRY_LABEL);
  view.setBigUint64(o, BigInt(index));
  o += 8;
  input.set(prevHash, o);
  o += HASH_BYTES;
  view.setUint32(o, event.length);
  o += 4;
  input.set(event, o);
  const out = new Uint8Array(HASH_BYTES);
  crypto.hash(out, input);
  return out;
}

/** Builds the next entry of a chain whose head is `prevHash` at length `index`. */
export function nextEntry(
  crypto: CryptoProvider,
  index: number,
  prevHash: Uint8Array,
  event: Uint8Array,
): AuditEntry {
  return { index, prevHash, entryHash: computeEntryHash(crypto, index, prevHash, event), event };
}

/** Where a chain stops being valid, and why. */
export interface ChainFault {
  readonly index: number;
  readonly problem: 'INDEX_MISMATCH' | 'PREV_HASH_MISMATCH' | 'ENTRY_HASH_MISMATCH';
}

/** A point of the chain already verified (e.g. up to a signed checkpoint) to continue from. */
export interface ChainAnchor {
  /** The index of the first entry that follows the anchor. */
  readonly index: number;
  /** The entry hash of entry index − 1. */
  readonly prevHash: Uint8Array;
}

/**
 * Walks entries in stored order and returns the first fault, or the head (count and hash) when the
 * whole chain is sound. `entries` may be a lazy iterator over a large store. With `from`, `entries`
 * starts at `from.index` and continues a chain already verified up to there (incremental
 * verification from a checkpoint).
 */
export function verifyChain(
  crypto: CryptoProvider,
  entries: Iterable<AuditEntry>,
  from?: ChainAnchor,
): { ok: true; count: number; headHash: Uint8Array } | { ok: false; fault: ChainFault } {
  let expectedPrev = from ? from.prevHash : genesisHash(crypto);
  let position = from ? from.index : 0;
  for (const entry of entries) {
    if (entry.index !== position) {
      return { ok: false, fault: { index: position, problem: 'INDEX_MISMATCH' } };
    }
    if (!crypto.equalConstantTime(entry.prevHash, expectedPrev)) {
      return { ok: false, fault: { index: position, problem: 'PREV_HASH_MISMATCH' } };
    }
    const recomputed = computeEntryHash(crypto, position, entry.prevHash, entry.event);
    if (!crypto.equalConstantTime(recomputed, entry.entryHash)) {
      return { ok: false, fault: { index: position, problem: 'ENTRY_HASH_MISMATCH' } };
    }
    expectedPrev = recomputed;
    position++;
  }
  return { ok: true, count: position, headHash: expectedPrev };
}
