import type { CryptoProvider } from '../crypto/provider.js';
import { ED25519_SIGNATURE_BYTES } from '../crypto/provider.js';
import { label } from '../envelope/labels.js';
import { HASH_BYTES } from './audit-chain.js';

/**
 * A checkpoint is the audit identity's signed statement "the log had `count` entries and its head
 * hash was `headHash` at `timeMs`". Stored beside the log and published to a checkpoint topic, so a
 * copy lives outside the store: a later log must extend every published checkpoint.
 *
 *   tbs = L("audit-checkpoint") ‖ u64 count ‖ headHash[32] ‖ u64 timeMs ‖ signerKid[16]
 */
const CHECKPOINT_LABEL = label('audit-checkpoint');
export const KID_BYTES = 16;

export interface AuditCheckpoint {
  readonly count: number;
  readonly headHash: Uint8Array;
  readonly timeMs: number;
  readonly signerKid: Uint8Array;
  readonly signature: Uint8Array;
}

export function checkpointTbs(
  count: number,
  headHash: Uint8Array,
  timeMs: number,
  signerKid: Uint8Array,
): Uint8Array {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('count out of range');
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) throw new RangeError('timeMs out of range');
  if (headHash.length !== HASH_BYTES) throw new RangeError('headHash must be 32 bytes');
  if (signerKid.length !== KID_BYTES) throw new RangeError('signerKid must be 16 bytes');
  const out = new Uint8Array(CHECKPOINT_LABEL.length + 8 + HASH_BYTES + 8 + KID_BYTES);
  const view = new DataView(out.buffer);
  let o = 0;
  out.set(CHECKPOINT_LABEL, o);
  o += CHECKPOINT_LABEL.length;
  view.setBigUint64(o, BigInt(count));
  o += 8;
  out.set(headHash, o);
  o += HASH_BYTES;
  view.setBigUint64(o, BigInt(timeMs));
  o += 8;
  out.set(signerKid, o);
  return out;
}

export function signCheckpoint(
  crypto: CryptoProvider,
  count: number,
  headHash: Uint8Array,
  timeMs: number,
  signerKid: Uint8Array,
  signingSecretKey: Uint8Array,
): AuditCheckpoint {
  const signature = crypto.signDetached(
    checkpointTbs(count, headHash, timeMs, signerKid),
    signingSecretKey,
  );
  return { count, headHash, timeMs, signerKid, signature };
}

export function verifyCheckpointSignature(
  crypto: CryptoProvider,
  checkpoint: AuditCheckpoint,
  signerPublicKey: Uint8Array,
): boolean {
  if (checkpoint.signature.length !== ED25519_SIGNATURE_BYTES) return false;
  let tbs: Uint8Array;
  try {
    tbs = checkpointTbs(
      checkpoint.count,
      checkpoint.headHash,
      checkpoint.timeMs,
      checkpoint.signerKid,
    );
  } catch {
    return false;
  }
  return crypto.verifyDetached(checkpoint.signature, tbs, signerPublicKey);
}

/** A checkpoint as JSON (the checkpoint topic's value and the CLI's output). */
export interface CheckpointJson {
  count: number;
  headHash: string;
  timeMs: number;
  signerKid: string;
  signature: string;
}

export function checkpointToJson(c: AuditCheckpoint): CheckpointJson {
  return {
    count: c.count,
    headHash: Buffer.from(c.headHash).toString('hex'),
    timeMs: c.timeMs,
    signerKid: Buffer.from(c.signerKid).toString('hex'),
    signature: Buffer.from(c.signature).toString('hex'),
  };
}

/** Parses strictly; returns null for anything that is not a well-formed checkpoint. */
export function checkpointFromJson(value: unknown): AuditCheckpoint | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).sort().join(',');
  if (keys !== 'count,headHash,signature,signerKid,timeMs') return null;
  const hex = (s: unknown, bytes: number): Uint8Array | null =>
    typeof s === 'string' && s.length === bytes * 2 && /^[0-9a-f]*$/.test(s)
      ? new Uint8Array(Buffer.from(s, 'hex'))
      : null;
  const headHash = hex(v.headHash, HASH_BYTES);
  const signerKid = hex(v.signerKid, KID_BYTES);
  const signature = hex(v.signature, ED25519_SIGNATURE_BYTES);
  if (!headHash || !signerKid || !signature) return null;
  if (!Number.isSafeInteger(v.count) || (v.count as number) < 0) return null;
  if (!Number.isSafeInteger(v.timeMs) || (v.timeMs as number) < 0) return null;
  return { count: v.count as number, headHash, timeMs: v.timeMs as number, signerKid, signature };
}
