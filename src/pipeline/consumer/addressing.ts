/**
 * Who a record the opener calls NOT_ADDRESSED is for (docs/SPEC.md §5 step 3: the slot kids are in the
 * clear). Only a record for someone else may be skipped and committed past; one addressed to a box key
 * the directory lists for our own identity (a rotation the running process has not loaded yet) must be
 * opened, and one naming a kid our directory does not know yet may be either until a directory read
 * after the record was written says otherwise.
 */
import type { KeyDirectory } from '../../keys/directory/key-directory.js';

/** The verdict on a not-addressed record. */
export type Addressing =
  /** A slot names a non-revoked box key of our identity that the opener does not hold: `kid` (hex). */
  | { readonly kind: 'ours-missing'; readonly kid: string }
  /** A slot names a kid the directory does not list (yet): decide after a fresher directory. */
  | { readonly kind: 'unknown-kid' }
  /** Every slot names a listed key of another identity (or a revoked one of ours): skip. */
  | { readonly kind: 'not-ours' };

/** Classifies the slot kids (hex) of a not-addressed record against the directory held now. */
export function classifyAddressing(
  slotKids: readonly string[],
  identity: string,
  directory: KeyDirectory,
): Addressing {
  let unknown = false;
  for (const kid of slotKids) {
    const r = directory.recipientKey(Buffer.from(kid, 'hex'));
    if (r === undefined) unknown = true;
    else if (r.identity === identity && r.status !== 'revoked')
      return { kind: 'ours-missing', kid };
  }
  return unknown ? { kind: 'unknown-kid' } : { kind: 'not-ours' };
}
