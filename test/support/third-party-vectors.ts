/**
 * Reads the public test vectors vendored under `test/vectors/third-party/` (Wycheproof, C2SP CCTV,
 * X-Wing, HPKE-PQ and ed25519-speccheck; sources and licences in that folder's README). Nothing
 * outside the repository is read.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (this file is test/support/shared-vectors.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of the vendored third-party vectors. */
export const THIRD_PARTY_VECTORS_DIR = resolve(REPO_ROOT, 'test/vectors/third-party');

/** Parses a JSON file under the third-party vectors folder, e.g. `wycheproof/x25519_test.json`. */
export function readThirdPartyVectorJson(relativePath: string): unknown {
  return JSON.parse(readFileSync(resolve(THIRD_PARTY_VECTORS_DIR, relativePath), 'utf8'));
}

/** Decodes lowercase/uppercase hex; throws on odd length or a non-hex character. */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new Error('fromHex: not a hex string');
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

/** Encodes bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}
