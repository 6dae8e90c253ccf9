/**
 * The text form of a token (what replaces the field value in the record):
 * `spt1.<class>.<version>.<s|b>.<base64url(siv ‖ ct)>` for a deterministic token and
 * `spm1.<class>.<version>.<s|b>.<base64url(mask)>` for a mask. `s`/`b` is the original Avro type
 * (string/bytes). Class and version are in the clear on purpose: the consumer's schema names the
 * class anyway, and the version picks the key after a rotation.
 */
import { TOKEN_CLASS_PATTERN } from '../keys/directory/directory-record.js';
import { TOKEN_MASK_BYTES, type TokenValueType } from './token-cipher.js';
import { TokenizeError } from './tokenize-error.js';

/** How a field is protected: reversible deterministic token, or one-way mask. */
export type TokenMode = 'deterministic' | 'mask';

/** A token split into its parts (the bytes are not yet authenticated). */
export interface ParsedToken {
  readonly mode: TokenMode;
  readonly tokenClass: string;
  readonly version: number;
  readonly type: TokenValueType;
  readonly bytes: Uint8Array;
}

/** Longest token string accepted by the parser (a 64 KiB value plus overhead, base64url). */
export const MAX_TOKEN_CHARS = 90_000;
const PREFIX: Record<TokenMode, string> = { deterministic: 'spt1', mask: 'spm1' };
const TYPE_LETTER: Record<TokenValueType, string> = { string: 's', bytes: 'b' };
const TOKEN_RE =
  /^(spt1|spm1)\.([a-z0-9][a-z0-9_-]{0,31})\.([1-9][0-9]{0,9})\.([sb])\.([A-Za-z0-9_-]+)$/;

/** Formats a token string. */
export function formatToken(t: ParsedToken): string {
  return `${PREFIX[t.mode]}.${t.tokenClass}.${t.version}.${TYPE_LETTER[t.type]}.${Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength).toString('base64url')}`;
}

/** True if `s` has the shape of a sealpost token (does not authenticate it). */
export function looksLikeToken(s: string): boolean {
  return s.length <= MAX_TOKEN_CHARS && TOKEN_RE.test(s);
}

/** Parses a token string; TOKEN_MALFORMED unless it has exactly the format above. */
export function parseToken(s: string): ParsedToken {
  if (typeof s !== 'string' || s.length > MAX_TOKEN_CHARS)
    throw new TokenizeError('TOKEN_MALFORMED', 'not a sealpost token');
  const m = TOKEN_RE.exec(s);
  if (m === null) throw new TokenizeError('TOKEN_MALFORMED', 'not a sealpost token');
  const [, prefix, tokenClass, versionText, typeLetter, b64] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const version = Number(versionText);
  if (version > 0x7fffffff || !TOKEN_CLASS_PATTERN.test(tokenClass))
    throw new TokenizeError('TOKEN_MALFORMED', 'token version or class out of range');
  const bytes = new Uint8Array(Buffer.from(b64, 'base64url'));
  // Canonical base64url only: one token, one string (no padding bits set, no alternative spelling).
  if (Buffer.from(bytes).toString('base64url') !== b64)
    throw new TokenizeError('TOKEN_MALFORMED', 'token encoding is not canonical');
  const mode: TokenMode = prefix === 'spt1' ? 'deterministic' : 'mask';
  if (mode === 'mask' && bytes.length !== TOKEN_MASK_BYTES)
    throw new TokenizeError('TOKEN_MALFORMED', 'mask length is wrong');
  return { mode, tokenClass, version, type: typeLetter === 's' ? 'string' : 'bytes', bytes };
}
