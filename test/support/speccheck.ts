/**
 * The 10 ed25519-speccheck cases (novifinancial/ed25519-speccheck, vendored under test/vectors/third-party) and the
 * verdicts libsodium's strict verify gives them: it accepts case index 3 only. Every Ed25519 verify call
 * site in sealpost must give exactly these verdicts; its tests can reuse this module:
 *
 *   expect(speccheckVerdicts((sig, msg, pk) => myVerify(sig, msg, pk))).toEqual(LIBSODIUM_SPECCHECK_VERDICTS);
 */
import { fromHex, readThirdPartyVectorJson } from './third-party-vectors.js';

/** One speccheck case, decoded. */
export interface SpeccheckCase {
  readonly index: number;
  readonly message: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}

/** Number of cases in the speccheck file; loading fails loudly if the file holds a different count. */
export const SPECCHECK_CASE_COUNT = 10;

function loadCases(): readonly SpeccheckCase[] {
  const raw = readThirdPartyVectorJson('ed25519-speccheck/cases.json');
  if (!Array.isArray(raw) || raw.length !== SPECCHECK_CASE_COUNT) {
    throw new Error(`ed25519-speccheck/cases.json: expected ${SPECCHECK_CASE_COUNT} cases`);
  }
  return raw.map((entry: unknown, index): SpeccheckCase => {
    const c = entry as { message?: unknown; pub_key?: unknown; signature?: unknown };
    if (
      typeof c.message !== 'string' ||
      typeof c.pub_key !== 'string' ||
      typeof c.signature !== 'string'
    ) {
      throw new Error(`ed25519-speccheck case ${index}: missing field`);
    }
    return {
      index,
      message: fromHex(c.message),
      publicKey: fromHex(c.pub_key),
      signature: fromHex(c.signature),
    };
  });
}

/** The cases, in file order (index 0..9). */
export const SPECCHECK_CASES: readonly SpeccheckCase[] = loadCases();

/** libsodium's strict verdicts (crypto_sign_verify_detached): true for case index 3 only. */
export const LIBSODIUM_SPECCHECK_VERDICTS: readonly boolean[] = SPECCHECK_CASES.map(
  (c) => c.index === 3,
);

/**
 * Runs `verify` on every case and returns its verdicts in case order. An exception counts as a
 * rejection only when `isRejection` says so (default: none does — a verify site must not throw on
 * well-sized input, and every speccheck case has a 32-byte key and a 64-byte signature).
 */
export function speccheckVerdicts(
  verify: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean,
  isRejection: (err: unknown) => boolean = () => false,
): boolean[] {
  return SPECCHECK_CASES.map((c) => {
    try {
      return verify(c.signature, c.message, c.publicKey);
    } catch (err) {
      if (isRejection(err)) return false;
      throw err;
    }
  });
}
