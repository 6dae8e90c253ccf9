/**
 * Opening a session header (docs/SPEC.md §5 step 5), fail closed in this order: our sealed box →
 * key commitment (constant time) → private part → time checks → directory (sender status, validity,
 * permissions; our permission) → header signature over headerTBS rebuilt with the sender kid from OUR
 * box (so a co-recipient cannot re-sign the session as itself) → derive the message key.
 */
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import { copyBytes, readU32, readU64 } from './bytes.js';
import {
  BOX_PLAINTEXT_BYTES,
  COMMIT_BYTES,
  KID_BYTES,
  KNOWN_FLAGS,
  MAC_KEY_BYTES,
  NONCE_BYTES,
  PRIVATE_PLAINTEXT_BYTES,
  SEED_BYTES,
  STREAM_ID_BYTES,
} from './constants.js';
import { hash256, kdf } from './derive.js';
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
  readonly kid: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** The slot addressed to one of our keys. */
export interface SlotMatch {
  readonly slot: number;
  readonly key: RecipientKeyPair;
}

/** Step 3: our kid among the header's slots; undefined means NOT_ADDRESSED (skip, count, commit). */
export function findSlot(
  header: SessionHeaderFields,
  keys: readonly RecipientKeyPair[],
): SlotMatch | undefined {
  const kids = header.kids;
  for (let i = 0; i < kids.length; i++) {
    const k = kids[i]!;
    for (const key of keys) {
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

  const opened = p.boxSealOpen(box, key.publicKey, key.secretKey);
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
