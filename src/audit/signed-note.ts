import type { CryptoProvider } from '../crypto/provider.js';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SECRET_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  SHA256_BYTES,
} from '../crypto/provider.js';
import { SealpostError, type ErrorCodeTable } from '../errors.js';

/**
 * C2SP signed notes (c2sp.org/signed-note, docs/AUDIT.md): a UTF-8 text ending in a newline, a blank
 * line, then one or more lines `— <key name> base64(key ID[4] ‖ signature)`. Only Ed25519 (signature
 * type 0x01) is implemented; its key ID is SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4], big-endian.
 *
 * Verifier keys are written `<name>+<key ID, 8 hex digits>+<base64(0x01 ‖ public key)>`, the form
 * Go's golang.org/x/mod/sumdb/note reads, so an auditor hands the same string to any verifier.
 */
export const ED25519_SIGNATURE_TYPE = 0x01;
/** More than the 16 the spec requires verifiers to accept; a bound on work for an untrusted note. */
export const MAX_NOTE_SIGNATURES = 100;
const EM_DASH_SPACE = '\u2014 ';

export const NOTE_ERROR_CODES = { NOTE_INVALID_ARGUMENT: 'no' } as const satisfies ErrorCodeTable;
export type NoteErrorCode = keyof typeof NOTE_ERROR_CODES;

/** A note or key the caller asked us to produce that the spec does not allow. Never retriable. */
export class NoteError extends SealpostError {
  declare readonly code: NoteErrorCode;
  constructor(message: string) {
    super('NOTE_INVALID_ARGUMENT', message);
  }
}

/** Signs note texts as one key. */
export interface NoteSigner {
  readonly name: string;
  /** uint32 key ID. */
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/** Checks signatures of one known key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/** Why a note was refused. */
export type NoteProblem =
  /** Not a signed note per the spec (layout, encoding, control characters, too many signatures). */
  | 'MALFORMED'
  /** A signature from a known key (name and key ID match) did not verify. */
  | 'BAD_SIGNATURE'
  /** No signature from a known key. */
  | 'UNKNOWN_KEY';

export type OpenedNote =
  | {
      readonly ok: true;
      /** The note text, final newline included. */
      readonly text: string;
      /** The known keys whose signatures verified. */
      readonly verifiedBy: readonly { readonly name: string; readonly keyId: number }[];
    }
  | { readonly ok: false; readonly problem: NoteProblem };

/** True for a valid key name: non-empty, no Unicode space, no '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && isWellFormedUtf16(name) && !/[\s+]/u.test(name) && !hasControl(name);
}

/** SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] as a big-endian uint32. */
export function ed25519KeyId(
  crypto: Pick<CryptoProvider, 'sha256'>,
  name: string,
  publicKey: Uint8Array,
): number {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new NoteError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes`);
  }
  const nameBytes = new TextEncoder().encode(name);
  const input = new Uint8Array(nameBytes.length + 2 + publicKey.length);
  input.set(nameBytes);
  input[nameBytes.length] = 0x0a;
  input[nameBytes.length + 1] = ED25519_SIGNATURE_TYPE;
  input.set(publicKey, nameBytes.length + 2);
  const digest = new Uint8Array(SHA256_BYTES);
  crypto.sha256(digest, input);
  return new DataView(digest.buffer).getUint32(0);
}

/**
 * A signer for `name` with an Ed25519 secret key in libsodium layout (seed ‖ public key, 64 bytes).
 * The key buffer is used as given (not copied): the caller owns and zeroes it.
 */
export function ed25519NoteSigner(
  crypto: Pick<CryptoProvider, 'sha256' | 'signDetached'>,
  name: string,
  secretKey: Uint8Array,
): NoteSigner {
  if (!isValidKeyName(name)) throw new NoteError('invalid note key name');
  if (secretKey.length !== ED25519_SECRET_KEY_BYTES) {
    throw new NoteError(`an Ed25519 secret key is ${ED25519_SECRET_KEY_BYTES} bytes`);
  }
  const keyId = ed25519KeyId(crypto, name, secretKey.subarray(32));
  return { name, keyId, sign: (text) => crypto.signDetached(text, secretKey) };
}

/** A verifier for `name` and an Ed25519 public key. */
export function ed25519NoteVerifier(
  crypto: Pick<CryptoProvider, 'sha256' | 'verifyDetached'>,
  name: string,
  publicKey: Uint8Array,
): NoteVerifier {
  if (!isValidKeyName(name)) throw new NoteError('invalid note key name');
  const key = Uint8Array.from(publicKey);
  const keyId = ed25519KeyId(crypto, name, key);
  return {
    name,
    keyId,
    verify: (text, signature) =>
      signature.length === ED25519_SIGNATURE_BYTES && crypto.verifyDetached(signature, text, key),
  };
}

/** `<name>+<8 hex digits key ID>+<base64(0x01 ‖ public key)>`. */
export function formatVerifierKey(
  crypto: Pick<CryptoProvider, 'sha256'>,
  name: string,
  publicKey: Uint8Array,
): string {
  if (!isValidKeyName(name)) throw new NoteError('invalid note key name');
  const keyId = ed25519KeyId(crypto, name, publicKey);
  const material = new Uint8Array(1 + publicKey.length);
  material[0] = ED25519_SIGNATURE_TYPE;
  material.set(publicKey, 1);
  return `${name}+${keyId.toString(16).padStart(8, '0')}+${Buffer.from(material).toString('base64')}`;
}

/**
 * Parses a verifier key string into a verifier. Null unless it is an Ed25519 key whose stated key ID
 * is the one its name and public key give.
 */
export function parseVerifierKey(
  crypto: Pick<CryptoProvider, 'sha256' | 'verifyDetached'>,
  vkey: string,
): NoteVerifier | null {
  const parts = vkey.split('+');
  if (parts.length !== 3) return null;
  const [name, idHex, material64] = parts as [string, string, string];
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex)) return null;
  const material = decodeBase64Strict(material64);
  if (material === null || material.length !== 1 + ED25519_PUBLIC_KEY_BYTES) return null;
  if (material[0] !== ED25519_SIGNATURE_TYPE) return null;
  const verifier = ed25519NoteVerifier(crypto, name, material.subarray(1));
  return verifier.keyId === Number.parseInt(idHex, 16) ? verifier : null;
}

/** Signs `text` (must end in a newline, no control characters but newline) with every signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (signers.length === 0) throw new NoteError('a note needs at least one signature');
  if (!isWellFormedUtf16(text) || hasControl(text.replaceAll('\n', ''))) {
    throw new NoteError('note text must be valid UTF-8 without control characters');
  }
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  const bytes = new TextEncoder().encode(text);
  let out = `${text}\n`;
  for (const signer of signers) {
    if (!isValidKeyName(signer.name)) throw new NoteError('invalid note key name');
    const signature = signer.sign(bytes);
    const blob = new Uint8Array(4 + signature.length);
    new DataView(blob.buffer).setUint32(0, signer.keyId);
    blob.set(signature, 4);
    out += `${EM_DASH_SPACE}${signer.name} ${Buffer.from(blob).toString('base64')}\n`;
  }
  return out;
}

/**
 * Opens a signed note against the known keys: malformed notes are refused; signatures from unknown
 * keys are ignored; a known key's signature that fails refuses the whole note; at least one known
 * key must have signed. `note` may be the raw bytes (checked to be UTF-8) or a string.
 */
export function openNote(note: string | Uint8Array, known: readonly NoteVerifier[]): OpenedNote {
  const MALFORMED = { ok: false, problem: 'MALFORMED' } as const;
  let message: string;
  if (typeof note === 'string') {
    if (!isWellFormedUtf16(note)) return MALFORMED;
    message = note;
  } else {
    try {
      message = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
    } catch {
      return MALFORMED;
    }
  }
  if (hasControl(message.replaceAll('\n', ''))) return MALFORMED;
  const split = message.lastIndexOf('\n\n');
  if (split < 0) return MALFORMED;
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (text.length === 0 || !block.endsWith('\n')) return MALFORMED;
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) return MALFORMED;
  const parsed: { name: string; keyId: number; signature: Uint8Array }[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_SPACE)) return MALFORMED;
    const rest = line.slice(EM_DASH_SPACE.length);
    const space = rest.indexOf(' ');
    if (space < 0) return MALFORMED;
    const name = rest.slice(0, space);
    const blob = decodeBase64Strict(rest.slice(space + 1));
    if (!isValidKeyName(name) || blob === null || blob.length < 5) return MALFORMED;
    const keyId = new DataView(blob.buffer, blob.byteOffset).getUint32(0);
    parsed.push({ name, keyId, signature: blob.subarray(4) });
  }
  const textBytes = new TextEncoder().encode(text);
  const verifiedBy: { name: string; keyId: number }[] = [];
  for (const sig of parsed) {
    const verifier = known.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (verifier === undefined) continue; // unknown keys are ignored, as the spec requires
    if (!verifier.verify(textBytes, sig.signature)) return { ok: false, problem: 'BAD_SIGNATURE' };
    if (!verifiedBy.some((v) => v.name === sig.name && v.keyId === sig.keyId)) {
      verifiedBy.push({ name: sig.name, keyId: sig.keyId });
    }
  }
  if (verifiedBy.length === 0) return { ok: false, problem: 'UNKNOWN_KEY' };
  return { ok: true, text, verifiedBy };
}

/** Standard base64 with padding (RFC 4648 §4), nothing else; null otherwise. */
export function decodeBase64Strict(s: string): Uint8Array | null {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  const bytes = Buffer.from(s, 'base64');
  // Canonical only: non-zero padding bits would make two encodings of the same bytes.
  if (bytes.toString('base64') !== s) return null;
  return new Uint8Array(bytes);
}

function hasControl(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f]/.test(s);
}

/** No lone surrogates: the string encodes to valid UTF-8. */
function isWellFormedUtf16(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}
