/**
 * Opening a session header (docs/SPEC.md §5 step 5), fail closed in this order: our sealed box
 * (suite 1) or X-Wing slot (suite 2) →
 * key commitment (constant time) → private part → time checks → directory (sender status, validity,
 * permissions; our permission) → header signature over headerTBS rebuilt with the sender kid from OUR
 * box (so a co-recipient cannot re-sign the session as itself) → derive the message key.
 */
import { isCryptoError } from '../crypto/crypto-error.js';
import type { CryptoProvider, XWingDecapsulationKey } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import { copyBytes, readU32, readU64 } from './bytes.js';
import {
  BOX_PLAINTEXT_BYTES,
  COMMIT_BYTES,
  ENVELOPE_SUITE,
  ENVELOPE_SUITE_XWING,
  type EnvelopeSuite,
  KID_BYTES,
  KNOWN_FLAGS,
  MAC_KEY_BYTES,
  NONCE_BYTES,
  PRIVATE_PLAINTEXT_BYTES,
  SEED_BYTES,
  STREAM_ID_BYTES,
  XWING_BOX_BYTES,
  XWING_CIPHERTEXT_BYTES,
  XWING_SEED_BYTES,
} from './constants.js';
import { hash256, kdf, xwingSlotKey } from './derive.js';
import type { SessionHeaderFields } from './envelope-codec.js';
import { EnvelopeError } from './errors.js';
import { KDF_ID_COMMIT, KDF_ID_MESSAGE_KEY, KDF_ID_PRIVATE_KEY } from './labels.js';
import { OpenedSession, type OpenPolicy } from './opened-session.js';
import type { SenderRecord, SenderResolver } from './sender-resolver.js';
import {
  buildHeaderPublic,
  buildHeaderTbs,
  privateAadInput,
  PRIVATE_SIG_OFFSET,
} from './transcripts.js';

/** One of our box keys (active or retiring, never revoked: the caller passes only usable keys). */
export interface RecipientKeyPair {
  /** kid('x25519', publicKey) for suite 1, kid('xwing', publicKey) for suite 2. */
  readonly kid: Uint8Array;
  /** 32-byte X25519 key (suite 1) or 1,216-byte X-Wing key (suite 2). */
  readonly publicKey: Uint8Array;
  /** 32-byte X25519 secret key (suite 1) or the 32-byte X-Wing seed (suite 2). */
  readonly secretKey: Uint8Array;
  /** The suite this key opens (default 1). A suite-2 header only ever matches suite-2 keys. */
  readonly suite?: EnvelopeSuite;
}

/**
 * Gives the expanded X-Wing decapsulation key of one of our suite-2 key pairs (kept in memory by the
 * caller, e.g. EnvelopeOpener; never serialised). Absent: the seed is expanded for each header.
 */
export type XWingKeySource = (key: RecipientKeyPair) => XWingDecapsulationKey;

/** The slot addressed to one of our keys. */
export interface SlotMatch {
  readonly slot: number;
  readonly key: RecipientKeyPair;
}

/**
 * Step 3: our kid among the header's slots; undefined means NOT_ADDRESSED (skip, count, commit). Only
 * keys of the header's suite are considered.
 */
export function findSlot(
  header: SessionHeaderFields,
  keys: readonly RecipientKeyPair[],
): SlotMatch | undefined {
  const kids = header.kids;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i]!;
    for (const key of keys) {
      if ((key.suite ?? ENVELOPE_SUITE) !== header.suite) continue;
      let same = key.kid.length === KID_BYTES;
      for (let j = 0; same && j < KID_BYTES; j++) same = k[j] === key.kid[j];
      if (same) return { slot: i, key };
    }
  }
  return undefined;
}

/** What opening a header needs besides the header. */
export interface OpenHeaderOptions {
  readonly provider: CryptoProvider;
  readonly clock: Clock;
  readonly policy: OpenPolicy;
  readonly resolver: SenderResolver;
  /** Expanded X-Wing keys held in memory (suite 2); absent: expanded per header. */
  readonly xwingKey?: XWingKeySource;
}

/** Opens a suite-1 slot: libsodium's sealed box. null when it does not open. */
function openSealedBox(
  p: CryptoProvider,
  box: Uint8Array,
  key: RecipientKeyPair,
): Uint8Array | null {
  return p.boxSealOpen(box, key.publicKey, key.secretKey);
}

/**
 * Opens a suite-2 slot (docs/SPEC.md §5 step 5): X-Wing decapsulation of the ciphertext, then the
 * AEAD under the wrap key bound to the suite, the session id and our kid. Null for every failure —
 * a refused ciphertext, a wrong size, a secret from ML-KEM's implicit rejection that does not open
 * the AEAD — so that all of them are one BOX_OPEN_FAILED.
 */
function openXWingBox(
  opts: OpenHeaderOptions,
  header: SessionHeaderFields,
  box: Uint8Array,
  key: RecipientKeyPair,
): Uint8Array | null {
  const p = opts.provider;
  if (box.length !== XWING_BOX_BYTES) return null;
  let ss: Uint8Array;
  try {
    const ct = box.subarray(0, XWING_CIPHERTEXT_BYTES);
    if (opts.xwingKey !== undefined) {
      ss = opts.xwingKey(key).decapsulate(ct);
    } else {
      if (key.secretKey.length !== XWING_SEED_BYTES) return null;
      ss = p.xwingDecapsulate(ct, key.secretKey);
    }
  } catch (err) {
    // The record's fault (a refused ciphertext, a wrong size) is BOX_OPEN_FAILED; anything else (no
    // X-Wing in this provider, a destroyed key) is ours and is not disguised as a bad record.
    if (
      isCryptoError(err) &&
      (err.code === 'CRYPTO_BAD_ARGUMENT' || err.code === 'CRYPTO_BAD_LENGTH')
    )
      return null;
    throw err;
  }
  const wrapKey = xwingSlotKey(p, ss, header.suite, header.sessionId, key.kid);
  p.memzero(ss);
  const out = new Uint8Array(BOX_PLAINTEXT_BYTES);
  const ok = p.aeadDecrypt(
    out,
    box.subarray(XWING_CIPHERTEXT_BYTES),
    null,
    new Uint8Array(NONCE_BYTES),
    wrapKey,
  );
  p.memzero(wrapKey);
  if (ok) return out;
  p.memzero(out);
  return null;
}

/**
 * Checks a sender record against a session's createdAt and topic (also used to re-check a cached
 * session when the directory epoch moved).
 */
export function checkSender(
  sender: SenderRecord | undefined,
  createdAtMs: number,
  policy: OpenPolicy,
): asserts sender is SenderRecord {
  if (sender === undefined) throw new EnvelopeError('UNKNOWN_SENDER');
  if (sender.status === 'revoked') throw new EnvelopeError('SENDER_REVOKED');
  if (sender.status === 'retiring') {
    // Retiring is not revoked: the detail says which, so an operator knows the sender must load its
    // rotated key (docs/OPERATIONS.md, sender rotation) rather than that the key was compromised.
    if (sender.retiredAtMs === undefined || createdAtMs > sender.retiredAtMs + policy.skewMs) {
      throw new EnvelopeError('SENDER_RETIRED');
    }
  }
  if (createdAtMs < sender.validFromMs || createdAtMs > sender.validUntilMs)
    throw new EnvelopeError('SENDER_NOT_VALID');
  if (!sender.maySendOnTopic) throw new EnvelopeError('SENDER_NOT_ALLOWED');
}

/**
 * Opens and verifies the header for our slot. Throws EnvelopeError [HEADER] or [STALE]. The returned
 * session owns the message key and our MAC key; close() zeros them.
 */
export function openSessionHeader(
  opts: OpenHeaderOptions,
  header: SessionHeaderFields,
  match: SlotMatch,
): OpenedSession {
  const { provider: p, policy } = opts;
  const { slot, key } = match;
  const box = header.boxes[slot];
  if (box === undefined) throw new EnvelopeError('BOX_OPEN_FAILED');

  if ((key.suite ?? ENVELOPE_SUITE) !== header.suite) throw new EnvelopeError('BOX_OPEN_FAILED');
  const opened =
    header.suite === ENVELOPE_SUITE_XWING
      ? openXWingBox(opts, header, box, key)
      : openSealedBox(p, box, key);
  if (opened === null || opened.length !== BOX_PLAINTEXT_BYTES) {
    if (opened !== null) p.memzero(opened);
    throw new EnvelopeError('BOX_OPEN_FAILED');
  }
  const seed = opened.subarray(0, SEED_BYTES);
  let kPriv: Uint8Array | null = null;
  let privatePlain: Uint8Array | null = null;
  let macKey: Uint8Array | null = null;
  let ok = false;
  try {
    const commit = kdf(p, seed, KDF_ID_COMMIT);
    if (commit.length !== COMMIT_BYTES || !p.equalConstantTime(commit, header.commit)) {
      throw new EnvelopeError('COMMITMENT_MISMATCH');
    }
    kPriv = kdf(p, seed, KDF_ID_PRIVATE_KEY);
    const headerPublic = buildHeaderPublic(header);
    privatePlain = new Uint8Array(PRIVATE_PLAINTEXT_BYTES);
    const aad = hash256(p, privateAadInput(headerPublic));
    if (!p.aeadDecrypt(privatePlain, header.private, aad, new Uint8Array(NONCE_BYTES), kPriv)) {
      throw new EnvelopeError('PRIVATE_OPEN_FAILED');
    }
    const createdAtMs = readU64(privatePlain, 0);
    const expiresAtMs = readU64(privatePlain, 8);
    const maxMessages = readU32(privatePlain, 16);
    const flags = privatePlain[20]!;
    const streamId = copyBytes(privatePlain, 21, 21 + STREAM_ID_BYTES);
    const sig = privatePlain.subarray(PRIVATE_SIG_OFFSET, PRIVATE_PLAINTEXT_BYTES);
    if ((flags & ~KNOWN_FLAGS) !== 0) throw new EnvelopeError('BAD_FLAGS');
    if (createdAtMs < 0 || expiresAtMs < 0 || createdAtMs > expiresAtMs)
      throw new EnvelopeError('BAD_HEADER_TIMES');
    if (maxMessages < 1 || expiresAtMs - createdAtMs > policy.maxSessionLifetimeMs) {
      throw new EnvelopeError('BAD_SESSION_LIMITS');
    }
    const now = opts.clock.nowMs();
    if (createdAtMs > now + policy.skewMs) throw new EnvelopeError('HEADER_FROM_FUTURE');
    if (createdAtMs < now - policy.horizonMs) throw new EnvelopeError('HEADER_EXPIRED');

    const senderKid = copyBytes(opened, SEED_BYTES + MAC_KEY_BYTES, BOX_PLAINTEXT_BYTES);
    const sender = opts.resolver.resolveSender(senderKid, header.topic);
    checkSender(sender, createdAtMs, policy);
    if (!opts.resolver.mayReceive(key.kid, header.topic))
      throw new EnvelopeError('RECIPIENT_NOT_ALLOWED');

    const priv = { createdAtMs, expiresAtMs, maxMessages, flags, streamId };
    const tbs = buildHeaderTbs(headerPublic, senderKid, priv);
    if (!p.verifyDetached(sig, tbs, sender.signingPublicKey))
      throw new EnvelopeError('BAD_HEADER_SIGNATURE');

    macKey = copyBytes(opened, SEED_BYTES, SEED_BYTES + MAC_KEY_BYTES);
    const session = new OpenedSession({
      provider: p,
      clock: opts.clock,
      policy,
      sessionId: copyBytes(header.sessionId),
      topic: header.topic,
      slot,
      recipientKid: copyBytes(key.kid),
      senderKid,
      senderIdentity: sender.identity,
      senderSigningPublicKey: copyBytes(sender.signingPublicKey),
      streamId,
      createdAtMs,
      expiresAtMs,
      maxMessages,
      flags,
      sessionHash: hash256(p, tbs),
      kMsg: kdf(p, seed, KDF_ID_MESSAGE_KEY),
      macKey,
    });
    ok = true;
    return session;
  } finally {
    p.memzero(opened);
    if (kPriv !== null) p.memzero(kPriv);
    if (privatePlain !== null) p.memzero(privatePlain);
    if (!ok && macKey !== null) p.memzero(macKey);
  }
}
