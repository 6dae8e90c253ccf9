/**
 * Reads the public test vectors shared beside the repository (`../shared/vectors/` from the repo root;
 * see that folder's README). They are read at run time, never copied into the repo; a missing file fails
 * the test that needs it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (this file is test/support/shared-vectors.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute path of the shared vectors folder. */
export const SHARED_VECTORS_DIR = resolve(REPO_ROOT, '../shared/vectors');

/** Parses a JSON file under the shared vectors folder, e.g. `wycheproof/x25519_test.json`. */
export function readSharedVectorJson(relativePath: string): unknown {
  return JSON.parse(readFileSync(resolve(SHARED_VECTORS_DIR, relativePath), 'utf8'));
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
