/**
 * The directory view the opener needs, as a callback interface: the keys engineer implements it from
 * the signed directory. Implementations answer from a directory whose head is fresh (unexpired); the
 * pipeline checks head freshness before opening a header and pauses otherwise. Calls are synchronous
 * and must not block: an unknown kid yields UNKNOWN_SENDER (retriable), after which the pipeline may
 * wait a bounded time for a directory refresh and open again.
 */

/** Status of a directory key. */
export type DirectoryKeyStatus = 'active' | 'retiring' | 'revoked';

/** What the directory says about one sender signing key. */
export interface SenderRecord {
  /** The service identity owning the key. */
  readonly identity: string;
  /** The full Ed25519 public key (crypto never uses the kid alone). */
  readonly signingPublicKey: Uint8Array;
  readonly status: DirectoryKeyStatus;
  /** Validity window of the key (inclusive bounds, ms since epoch). */
  readonly validFromMs: number;
  readonly validUntilMs: number;
  /** For a retiring key: when it retired. Sessions created after retiredAt + skew are refused. */
  readonly retiredAtMs?: number;
  /** Whether the identity may send on the topic the lookup named. */
  readonly maySendOnTopic: boolean;
}

/** The directory lookups of opening step 5. */
export interface SenderResolver {
  /** The Ed25519 key record whose kid is `senderKid`, with its permission for `topic`; undefined if unknown. */
  resolveSender(senderKid: Uint8Array, topic: string): SenderRecord | undefined;
  /** Whether the identity owning our box key `recipientKid` may receive on `topic`. */
  mayReceive(recipientKid: Uint8Array, topic: string): boolean;
  /** The directory epoch; a cached session is re-checked when it moves. */
  epoch(): number;
}
