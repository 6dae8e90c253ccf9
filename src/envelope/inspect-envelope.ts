/**
 * Structure of an envelope for operators (`sealpost inspect`, `sealpost quarantine show`): the record
 * value is decoded as strictly as the opener decodes it, but the schema id and namespace are taken
 * from the bytes instead of being checked against pinned values — a tool that looks at a record from
 * any deployment needs no configuration and no keys. Nothing is opened or decrypted.
 */
import { AEAD_TAG_BYTES, NAMESPACE_BYTES, SESSION_ID_BYTES } from './constants.js';
import { decodeEnvelope, FRAME_PREFIX_BYTES, type DecodedEnvelope } from './envelope-codec.js';

/** What an operator may see of an envelope: public structure only. */
export interface EnvelopeStructure {
  readonly schemaId: number;
  readonly version: number;
  readonly suite: number;
  /** Hex. */
  readonly sessionId: string;
  /** Hex (the directory authority's kid). */
  readonly namespace: string;
  readonly topic: string;
  /** Recipients' kids, hex, in header order (ascending). */
  readonly recipientKids: readonly string[];
  /** Hex of the 32-byte commitment. */
  readonly commitment: string;
  readonly seq: number;
  /** Hex of the 24-byte nonce. */
  readonly nonce: string;
  readonly tagCount: number;
  readonly sizes: {
    /** The whole record value, frame prefix included. */
    readonly total: number;
    /** The header record's Avro bytes. */
    readonly header: number;
    /** The sealed private part of the header. */
    readonly privatePart: number;
    /** Ciphertext including the AEAD tag. */
    readonly ciphertext: number;
    /** Length of the padded plaintext (ciphertext minus the AEAD tag). */
    readonly paddedLength: number;
  };
}

/**
 * Decodes a record value's envelope structure. Throws EnvelopeError (coarse class MALFORMED) for
 * anything that is not a canonical sealpost envelope, exactly like decodeEnvelope.
 */
export function inspectEnvelope(
  value: Uint8Array,
  options: { readonly maxCiphertextBytes: number },
): EnvelopeStructure {
  const schemaId =
    value.length >= FRAME_PREFIX_BYTES
      ? ((value[1]! << 24) | (value[2]! << 16) | (value[3]! << 8) | value[4]!) >>> 0
      : 0;
  const decoded = decodeEnvelope(value, {
    // Either suite's schema: the suite field decides the slot size (docs/SPEC.md §2.2).
    envelopeSchemaId: schemaId,
    suite2EnvelopeSchemaId: schemaId,
    namespace: namespaceCandidate(value),
    maxCiphertextBytes: options.maxCiphertextBytes,
  });
  return structureOf(schemaId, value.length, decoded);
}

/**
 * The bytes where the namespace sits when version and suite are one-byte varints (the only form v1
 * allows). If they are not, the decoder fails on the version or suite before it compares namespaces,
 * so a wrong guess here can never make a bad envelope pass.
 */
function namespaceCandidate(value: Uint8Array): Uint8Array {
  const start = FRAME_PREFIX_BYTES + 2 + SESSION_ID_BYTES;
  if (value.length < start + NAMESPACE_BYTES) return new Uint8Array(NAMESPACE_BYTES);
  return value.subarray(start, start + NAMESPACE_BYTES);
}

const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function structureOf(schemaId: number, total: number, d: DecodedEnvelope): EnvelopeStructure {
  return {
    schemaId,
    version: d.header.version,
    suite: d.header.suite,
    sessionId: hex(d.header.sessionId),
    namespace: hex(d.header.namespace),
    topic: d.header.topic,
    recipientKids: d.header.kids.map(hex),
    commitment: hex(d.header.commit),
    seq: d.seq,
    nonce: hex(d.nonce),
    tagCount: d.tags.length,
    sizes: {
      total,
      header: d.headerBytes.length,
      privatePart: d.header.private.length,
      ciphertext: d.ct.length,
      paddedLength: d.ct.length - AEAD_TAG_BYTES,
    },
  };
}
