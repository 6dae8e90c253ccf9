/**
 * Domain-separation labels: `L(x)` = ASCII "sealpost/v1/" + x, then one 0x00 byte. One distinct
 * label for every use (docs/SPEC.md §Labels lists them all).
 */
export function label(x: string): Uint8Array {
  const s = `sealpost/v1/${x}`;
  const out = new Uint8Array(s.length + 1);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7e || c < 0x21) throw new RangeError('labels are printable ASCII');
    out[i] = c;
  }
  return out; // trailing 0x00 already there
}

/** Every label the protocol uses, precomputed once. */
export const LABELS = {
  kid: label('kid'),
  recordKey: label('record-key'),
  schema: label('schema'),
  headerSig: label('header-sig'),
  headerPublic: label('header-public'),
  headerBytes: label('header-bytes'),
  messageSig: label('message-sig'),
  body: label('body'),
  aad: label('aad'),
  digest: label('digest'),
  tag: label('tag'),
  releaseSig: label('release-sig'),
  releaseId: label('release-id'),
  xwingSlot: label('xwing-slot'),
} as const;

/** The 8-byte libsodium KDF context. */
export const KDF_CONTEXT = 'spost-v1';
/** KDF subkey ids. */
export const KDF_ID_COMMIT = 1;
export const KDF_ID_MESSAGE_KEY = 2;
export const KDF_ID_PRIVATE_KEY = 3;
