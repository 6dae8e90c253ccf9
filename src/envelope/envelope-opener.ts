/**
 * Opening steps 1–8 composed, with the header cache: what SealedConsumer calls per record. The
 * pipeline keeps what is not pure (admission budget, replay persistence, registry, dead letters).
 */
import type { OpenedBodyScratch } from './opened-body-scratch.js';
import type { CryptoProvider, XWingDecapsulationKey } from '../crypto/provider.js';
import { invalidArgument } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { copyBytes } from './bytes.js';
import {
  ENVELOPE_SUITE,
  ENVELOPE_SUITE_XWING,
  type EnvelopeSuite,
  KID_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SEED_BYTES,
} from './constants.js';
import {
  EnvelopeDecoder,
  type EnvelopeDecodeLimits,
  type SessionHeaderFields,
} from './envelope-codec.js';
import { EnvelopeError, EnvelopeUsageError } from './errors.js';
import { HeaderCache } from './header-cache.js';
import {
  checkSender,
  findSlot,
  openSessionHeader,
  type RecipientKeyPair,
  type SlotMatch,
} from './open-session-header.js';
import type { OpenedMessage, OpenPolicy, RecordContext } from './opened-session.js';
import type { ReplayWindow } from './replay-window.js';
import type { SenderResolver } from './sender-resolver.js';

/** Outcome of opening a record. Rejections are thrown as EnvelopeError. */
export type OpenResult =
  | { readonly kind: 'delivered'; readonly message: OpenedMessage }
  /** The seq was already accepted on this window: not delivered, counted, no dead letter. */
  | { readonly kind: 'duplicate'; readonly replayKey: string; readonly seq: number }
  /**
   * None of the kids this opener holds is among the slots. `slotKids` (hex, in the clear in the
   * header) lets the caller tell a record for someone else (skip, count, commit past it) from one
   * addressed to a key of its own identity that it has not loaded yet (docs/SPEC.md §5 step 3).
   */
  | { readonly kind: 'not-addressed'; readonly slotKids: readonly string[] }
  /** A header-cache miss was refused an admission token: pause the partition and retry later. */
  | { readonly kind: 'throttled' };

export interface EnvelopeOpenerOptions {
  readonly provider: CryptoProvider;
  readonly clock: Clock;
  readonly resolver: SenderResolver;
  readonly policy: OpenPolicy;
  readonly limits: EnvelopeDecodeLimits;
  /**
   * Our usable box keys (active or retiring, never revoked), of either suite: X25519 pairs (suite 1)
   * and X-Wing pairs (suite 2, `secretKey` = the 32-byte seed). Sizes are checked per suite.
   */
  readonly recipientKeys: readonly RecipientKeyPair[];
  /** Defaults to 1,024 sessions and 4,096 rejected headers. */
  readonly cache?: HeaderCache;
  /**
   * The topic's suite policy (docs/SPEC.md §5 step 2): false refuses the record with
   * SUITE_NOT_ALLOWED before any cryptography (e.g. a topic that requires suite 2). Absent: both
   * suites are accepted.
   */
  readonly acceptsSuite?: (topic: string, suite: EnvelopeSuite) => boolean;
}

/** Per-call hooks. */
export interface OpenHooks {
  /** The replay window for a key, or undefined if none exists yet. */
  readonly window?: (replayKey: string) => ReplayWindow | undefined;
  /** Called before a header-cache miss does public-key work; false → result `throttled`. */
  readonly admit?: () => boolean;
  /**
   * Memory to open the body into, held by the record context until released (a reader opening one
   * record at a time); without it, a fresh carve of the opened-body slabs.
   */
  readonly body?: OpenedBodyScratch;
}

export class EnvelopeOpener {
  readonly #opts: EnvelopeOpenerOptions;
  readonly cache: HeaderCache;
  #keys: readonly RecipientKeyPair[];
  /**
   * Expanded X-Wing keys of #keys, made when the keys are given (so a seed that does not match its
   * public key, or a provider without X-Wing, is refused then, not at the first record); held in
   * memory only and destroyed on key change and close.
   */
  #xwing = new Map<RecipientKeyPair, XWingDecapsulationKey>();
  /** The last header seen and its hh: consecutive records of one session skip hashing the header. */
  #lastHeader: Uint8Array = new Uint8Array(0);
  #lastHh = '';
  readonly #decoder: EnvelopeDecoder;
  /** The last header searched for our slot (by identity) and what was found, for #keys. */
  #slotHeader: SessionHeaderFields | null = null;
  #slotMatch: SlotMatch | undefined;

  constructor(opts: EnvelopeOpenerOptions) {
    const s2 = opts.limits.suite2EnvelopeSchemaId;
    if (s2 !== undefined && s2 === opts.limits.envelopeSchemaId)
      throw invalidArgument('the suite-1 and suite-2 envelope schema ids must differ');
    checkRecipientKeys(opts.recipientKeys);
    this.#opts = opts;
    this.#keys = opts.recipientKeys;
    this.#xwing = expandXWingKeys(opts.provider, opts.recipientKeys);
    this.#decoder = new EnvelopeDecoder(opts.limits);
    this.cache =
      opts.cache ??
      new HeaderCache({ provider: opts.provider, maxSessions: 1024, maxRejected: 4096 });
  }

  /** Replaces our usable box keys (rotation); cached sessions of a dropped key are cleared. */
  setRecipientKeys(keys: readonly RecipientKeyPair[]): void {
    checkRecipientKeys(keys);
    const expanded = expandXWingKeys(this.#opts.provider, keys);
    this.#keys = keys;
    this.#slotHeader = null;
    this.cache.clear();
    this.#destroyXWingKeys();
    this.#xwing = expanded;
  }

  /** The expanded X-Wing key of one of our suite-2 pairs (expanded when the keys were given). */
  #xwingKey = (key: RecipientKeyPair): XWingDecapsulationKey => {
    const dk = this.#xwing.get(key);
    if (dk === undefined)
      throw new EnvelopeUsageError('SESSION_CLOSED', 'envelope opener is closed');
    return dk;
  };

  #destroyXWingKeys(): void {
    for (const dk of this.#xwing.values()) dk.destroy();
    this.#xwing.clear();
  }

  /**
   * Opens one record value read at `ctx`. Throws EnvelopeError for every rejection (switch on
   * `coarse` for the dead letter, `code` for the audit event); never marks the replay window.
   */
  open(value: Uint8Array, ctx: RecordContext, hooks: OpenHooks = {}): OpenResult {
    const o = this.#opts;
    const env = this.#decoder.decode(value);
    if (env.header.topic !== ctx.topic) throw new EnvelopeError('TOPIC_MISMATCH');
    if (
      o.acceptsSuite !== undefined &&
      !o.acceptsSuite(ctx.topic, env.header.suite as EnvelopeSuite)
    )
      throw new EnvelopeError('SUITE_NOT_ALLOWED');
    // The decoder hands back the same header object for a repeated header: its slot is known.
    let match = this.#slotMatch;
    if (env.header !== this.#slotHeader) {
      match = findSlot(env.header, this.#keys);
      this.#slotHeader = env.header;
      this.#slotMatch = match;
    }
    if (match === undefined)
      return {
        kind: 'not-addressed',
        slotKids: env.header.kids.map((k) =>
          Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('hex'),
        ),
      };

    const hh = this.#headerKey(env.headerBytes);
    const rejected = this.cache.getRejected(hh);
    if (rejected !== undefined) throw new EnvelopeError(rejected);
    let cached = this.cache.getSession(hh);
    if (cached !== undefined && cached.session.slot !== match.slot) cached = undefined;
    if (cached !== undefined) {
      // The horizon (SPEC §5 step 5) on every use, not only when the header was first opened: replay
      // windows idle past the horizon are freed, so it is what refuses an old record re-injected.
      if (cached.session.createdAtMs < o.clock.nowMs() - o.policy.horizonMs) {
        this.cache.deleteSession(hh);
        this.cache.putRejected(hh, 'HEADER_EXPIRED');
        throw new EnvelopeError('HEADER_EXPIRED');
      }
      const epoch = o.resolver.epoch();
      if (cached.epoch !== epoch) {
        const s = cached.session;
        try {
          checkSender(o.resolver.resolveSender(s.senderKid, s.topic), s.createdAtMs, o.policy);
          if (!o.resolver.mayReceive(s.recipientKid, s.topic))
            throw new EnvelopeError('RECIPIENT_NOT_ALLOWED');
        } catch (err) {
          this.cache.deleteSession(hh);
          throw err;
        }
        cached.epoch = epoch;
      }
      return cached.session.openMessage(
        env,
        ctx,
        hooks.window?.(cached.session.replayKey(ctx.partition)),
        hooks.body,
      );
    }

    if (hooks.admit !== undefined && !hooks.admit()) return { kind: 'throttled' };
    let session;
    try {
      session = openSessionHeader({ ...o, xwingKey: this.#xwingKey }, env.header, match);
    } catch (err) {
      if (err instanceof EnvelopeError) this.cache.putRejected(hh, err.code);
      throw err;
    }
    const inCache = this.cache.putSession(hh, session, o.resolver.epoch());
    try {
      return session.openMessage(
        env,
        ctx,
        hooks.window?.(session.replayKey(ctx.partition)),
        hooks.body,
      );
    } finally {
      if (!inCache) session.close();
    }
  }

  /** hh of a header; identical bytes have the identical hash, so the last one is remembered. */
  #headerKey(headerBytes: Uint8Array): string {
    const last = this.#lastHeader;
    // The decoder hands back the same header copy for a repeated header: usually an identity check.
    if (
      last === headerBytes ||
      (last.length === headerBytes.length && Buffer.compare(last, headerBytes) === 0)
    ) {
      return this.#lastHh;
    }
    const hh = this.cache.keyOf(headerBytes);
    this.#lastHeader = copyBytes(headerBytes);
    this.#lastHh = hh;
    return hh;
  }

  /** Closes every cached session and destroys the expanded X-Wing keys. */
  close(): void {
    this.cache.clear();
    this.#destroyXWingKeys();
  }
}

/**
 * Expands every suite-2 seed once (docs/SPEC.md §2.2: in memory only). A seed whose public key is not
 * the pair's is ARGUMENT_INVALID; on any failure the keys expanded so far are destroyed.
 */
function expandXWingKeys(
  provider: CryptoProvider,
  keys: readonly RecipientKeyPair[],
): Map<RecipientKeyPair, XWingDecapsulationKey> {
  const out = new Map<RecipientKeyPair, XWingDecapsulationKey>();
  try {
    for (const k of keys) {
      if (k.suite !== ENVELOPE_SUITE_XWING) continue;
      const dk = provider.xwingDecapsulationKey(k.secretKey);
      out.set(k, dk);
      if (Buffer.compare(dk.publicKey, k.publicKey) !== 0)
        throw invalidArgument('recipient X-Wing public key does not belong to its seed');
    }
    return out;
  } catch (err) {
    for (const dk of out.values()) dk.destroy();
    throw err;
  }
}

/** Refuses key pairs whose sizes do not fit their suite (a session never mixes suites). */
function checkRecipientKeys(keys: readonly RecipientKeyPair[]): void {
  for (const k of keys) {
    const suite = k.suite ?? ENVELOPE_SUITE;
    if (suite !== ENVELOPE_SUITE && suite !== ENVELOPE_SUITE_XWING)
      throw invalidArgument('recipient key suite must be 1 or 2');
    const pk = suite === ENVELOPE_SUITE_XWING ? XWING_PUBLIC_KEY_BYTES : X25519_PUBLIC_KEY_BYTES;
    const sk = suite === ENVELOPE_SUITE_XWING ? XWING_SEED_BYTES : 32;
    if (k.kid.length !== KID_BYTES || k.publicKey.length !== pk || k.secretKey.length !== sk)
      throw invalidArgument(
        `suite ${suite} recipient key: kid ${KID_BYTES}, public key ${pk}, secret key ${sk} bytes`,
      );
  }
}
