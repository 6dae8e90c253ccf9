/**
 * Attacker tooling for adversarial tests, built from the same internal transcript functions the
 * implementation uses: what a recipient (who can open its own box) or a malicious sender can compute.
 */
import type { CryptoProvider } from '../../../../src/crypto/provider.js';
import { readU32, readU64 } from '../../../../src/envelope/bytes.js';
import { hash256, kdf, xwingSlotKey } from '../../../../src/envelope/derive.js';
import type { SessionHeaderFields } from '../../../../src/envelope/envelope-codec.js';
import {
  KDF_ID_COMMIT,
  KDF_ID_MESSAGE_KEY,
  KDF_ID_PRIVATE_KEY,
  LABELS,
} from '../../../../src/envelope/labels.js';
import { MessageTranscripts } from '../../../../src/envelope/message-transcripts.js';
import {
  buildHeaderPublic,
  buildHeaderTbs,
  buildPrivatePlaintext,
  privateAadInput,
  type SessionPrivateFields,
} from '../../../../src/envelope/transcripts.js';

export interface BoxContents {
  readonly seed: Uint8Array;
  readonly macKey: Uint8Array;
  readonly senderKid: Uint8Array;
}

/** What a recipient learns from its own box. */
export function openBox(
  p: CryptoProvider,
  header: SessionHeaderFields,
  slot: number,
  pk: Uint8Array,
  sk: Uint8Array,
): BoxContents {
  const opened = p.boxSealOpen(header.boxes[slot]!, pk, sk);
  if (opened === null) throw new Error('box does not open');
  return {
    seed: opened.slice(0, 32),
    macKey: opened.slice(32, 64),
    senderKid: opened.slice(64, 80),
  };
}

/**
 * What a suite-2 recipient learns from its own X-Wing slot (docs/SPEC.md §2.2): decapsulate with its
 * seed, derive the wrap key for its kid, open the wrapped 80 bytes.
 */
export function openXWingBox(
  p: CryptoProvider,
  header: SessionHeaderFields,
  slot: number,
  seed: Uint8Array,
): BoxContents {
  const box = header.boxes[slot]!;
  const ss = p.xwingDecapsulate(box.subarray(0, 1120), seed);
  const wrapKey = xwingSlotKey(p, ss, header.suite, header.sessionId, header.kids[slot]!);
  const opened = new Uint8Array(80);
  if (!p.aeadDecrypt(opened, box.subarray(1120), null, new Uint8Array(24), wrapKey))
    throw new Error('x-wing slot does not open');
  return {
    seed: opened.slice(0, 32),
    macKey: opened.slice(32, 64),
    senderKid: opened.slice(64, 80),
  };
}

/** Decrypts `private` with the seed: the private fields and the signature. */
export function readPrivate(
  p: CryptoProvider,
  header: SessionHeaderFields,
  seed: Uint8Array,
): { priv: SessionPrivateFields; sig: Uint8Array } {
  const plain = new Uint8Array(101);
  const aad = hash256(p, privateAadInput(buildHeaderPublic(header)));
  if (
    !p.aeadDecrypt(plain, header.private, aad, new Uint8Array(24), kdf(p, seed, KDF_ID_PRIVATE_KEY))
  )
    throw new Error('private does not open');
  return {
    priv: {
      createdAtMs: readU64(plain, 0),
      expiresAtMs: readU64(plain, 8),
      maxMessages: readU32(plain, 16),
      flags: plain[20]!,
      streamId: plain.slice(21, 37),
    },
    sig: plain.slice(37),
  };
}

/**
 * Re-signs a header: new private part under KDF(seed, 3), signed by `signSecretKey` over a headerTBS
 * naming `senderKid`. Returns the header and its sessionHash.
 */
export function resignHeader(
  p: CryptoProvider,
  header: SessionHeaderFields,
  opts: {
    seed: Uint8Array;
    senderKid: Uint8Array;
    signSecretKey: Uint8Array;
    priv: SessionPrivateFields;
    signature?: Uint8Array;
  },
): { header: SessionHeaderFields; sessionHash: Uint8Array } {
  const headerPublic = buildHeaderPublic(header);
  const tbs = buildHeaderTbs(headerPublic, opts.senderKid, opts.priv);
  const sig = opts.signature ?? p.signDetached(tbs, opts.signSecretKey);
  const plain = buildPrivatePlaintext(opts.priv, sig);
  const ct = new Uint8Array(plain.length + 16);
  p.aeadEncrypt(
    ct,
    plain,
    hash256(p, privateAadInput(headerPublic)),
    new Uint8Array(24),
    kdf(p, opts.seed, KDF_ID_PRIVATE_KEY),
  );
  return { header: { ...header, private: ct }, sessionHash: hash256(p, tbs) };
}

/** The session hash of a header whose box contents we know. */
export function sessionHashOf(
  p: CryptoProvider,
  header: SessionHeaderFields,
  box: BoxContents,
): Uint8Array {
  const { priv } = readPrivate(p, header, box.seed);
  return hash256(p, buildHeaderTbs(buildHeaderPublic(header), box.senderKid, priv));
}

export { KDF_ID_COMMIT, KDF_ID_MESSAGE_KEY, LABELS, kdf };

/**
 * Encrypts an arbitrary padded plaintext under kMsg for (partition, seq, key) and computes the tags
 * for the slots whose MAC keys are given (others get the `fallbackTags`).
 */
export function craftMessage(
  p: CryptoProvider,
  s: { sessionHash: Uint8Array; kMsg: Uint8Array; kids: readonly Uint8Array[] },
  macKeys: ReadonlyMap<number, Uint8Array>,
  ctx: { partition: number; seq: number; key: Uint8Array | null },
  padded: Uint8Array,
  fallbackTags: readonly Uint8Array[],
): { nonce: Uint8Array; ct: Uint8Array; tags: Uint8Array[] } {
  const t = new MessageTranscripts(p, s.sessionHash);
  t.setContext(ctx.partition, ctx.seq, ctx.key);
  const nonce = p.randomBytes(24);
  const ct = new Uint8Array(padded.length + 16);
  p.aeadEncrypt(ct, padded, t.aad(), nonce, s.kMsg);
  const off = t.prepareDigest(ct.length);
  t.digestInput().set(nonce, off);
  t.ciphertextView().set(ct);
  t.computeDigest();
  const tags = s.kids.map((kid, i) => {
    const k = macKeys.get(i);
    if (k === undefined) return fallbackTags[i]!.slice();
    const out = new Uint8Array(16);
    t.computeTag(out, k, i, kid);
    return out;
  });
  return { nonce, ct, tags };
}

/** The message-signature transcript for a body (what a signed session signs). */
export function messageSignatureInput(
  p: CryptoProvider,
  sessionHash: Uint8Array,
  ctx: { partition: number; seq: number; key: Uint8Array | null },
  body: Uint8Array,
): Uint8Array {
  const t = new MessageTranscripts(p, sessionHash);
  t.setContext(ctx.partition, ctx.seq, ctx.key);
  const lb = new Uint8Array(LABELS.body.length + body.length);
  lb.set(LABELS.body, 0);
  lb.set(body, LABELS.body.length);
  return t.messageSignatureInput(lb).slice();
}
