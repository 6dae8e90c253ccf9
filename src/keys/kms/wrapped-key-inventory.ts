/**
 * Everything sealpost has wrapped with one KMS key, wherever it is kept (identity files, token-key
 * files, replay-state key records on the state topic): rewrapped together after a KMS key rotation,
 * and checked before the key's minimum decryption version is raised — a wrap left below the minimum
 * can never be unwrapped again (docs/OPERATIONS.md, key lifecycle step 7).
 */
import { KmsError } from './kms-error.js';
import type { Kms, KmsKeyDescription } from './kms.js';

/** One wrapped key as found at rest: where it is (for an operator) and the KMS key version. */
export interface WrappedKeyItem {
  /** Names the place, never key material: `identity file <path> generation 2`. */
  readonly what: string;
  readonly version: number;
}

/** A place that keeps keys wrapped by a KMS key. */
export interface WrappedKeyHolder {
  /** Every key it keeps wrapped by `kms`'s key (other KMS keys' wraps are not listed). */
  list(kms: Kms): Promise<WrappedKeyItem[]>;
  /**
   * Rewraps in place (no plaintext leaves the KMS) every key wrapped by `kms`'s key below
   * `latestVersion`; returns them with their new version.
   */
  rewrap(kms: Kms, latestVersion: number): Promise<WrappedKeyItem[]>;
}

/** Rewraps every holder's keys under the latest version (after rotating the KMS key if asked). */
export async function rewrapHolders(
  holders: readonly WrappedKeyHolder[],
  kms: Kms,
  options: { rotateFirst?: boolean } = {},
): Promise<{ rewrapped: WrappedKeyItem[]; kms: KmsKeyDescription }> {
  const description = options.rotateFirst === true ? await kms.rotate() : await kms.describe();
  const rewrapped: WrappedKeyItem[] = [];
  for (const h of holders) rewrapped.push(...(await h.rewrap(kms, description.latestVersion)));
  return { rewrapped, kms: description };
}

const LISTED = 20;

/**
 * Raises the KMS key's minimum decryption version to its latest version — only when no key any
 * holder keeps is wrapped below it; otherwise KMS_REWRAP_INCOMPLETE naming each one (and nothing
 * changes). Already at the latest: returns the description unchanged.
 */
export async function raiseMinDecryptionVersion(
  holders: readonly WrappedKeyHolder[],
  kms: Kms,
): Promise<KmsKeyDescription> {
  const description = await kms.describe();
  const target = description.latestVersion;
  if (description.minDecryptionVersion >= target) return description;
  const below: WrappedKeyItem[] = [];
  for (const h of holders) below.push(...(await h.list(kms)).filter((i) => i.version < target));
  if (below.length > 0) {
    const named = below
      .slice(0, LISTED)
      .map((i) => `${i.what} at v${i.version}`)
      .join('; ');
    const more = below.length > LISTED ? `; and ${below.length - LISTED} more` : '';
    throw new KmsError(
      'KMS_REWRAP_INCOMPLETE',
      `refusing to raise the minimum decryption version of KMS key ${description.reference.keyName} to v${target}: ${below.length} wrapped key(s) are still below it and could never be unwrapped again — rewrap them first (\`sealpost keys rewrap --all\`): ${named}${more}`,
    );
  }
  return kms.setMinDecryptionVersion(target);
}
