/**
 * An in-memory world for envelope unit tests: a namespace, identities with box and signing keys, an
 * in-memory SenderResolver (a fake of the directory view — the real one is the keys module's), a
 * manual clock and the standard limits and policy.
 */
import type { CryptoProvider, KeyPair } from '../../../../src/crypto/provider.js';
import {
  createSealingSession,
  EnvelopeOpener,
  kid,
  type EnvelopeDecodeLimits,
  type OpenPolicy,
  type RecipientKeyPair,
  type SealingSession,
  type SealingSessionOptions,
  type SenderRecord,
  type SenderResolver,
} from '../../../../src/envelope/index.js';
import { ManualClock } from '../../../../src/runtime/clock.js';

export interface Identity {
  readonly name: string;
  readonly box: KeyPair;
  readonly boxKid: Uint8Array;
  readonly sign: KeyPair;
  readonly signKid: Uint8Array;
  /** Suite 2: an X-Wing key pair (secretKey = the 32-byte seed) and its kid('xwing', pk). */
  readonly xwing: KeyPair;
  readonly xwingKid: Uint8Array;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A fake directory view: records by kid, permissions by identity. */
export class MemoryResolver implements SenderResolver {
  readonly senders = new Map<
    string,
    Omit<SenderRecord, 'maySendOnTopic'> & { sendTopics: Set<string> }
  >();
  readonly receivers = new Map<string, { identity: string; topics: Set<string> }>();
  #epoch = 1;

  resolveSender(senderKid: Uint8Array, topic: string): SenderRecord | undefined {
    const r = this.senders.get(hex(senderKid));
    if (r === undefined) return undefined;
    return { ...r, maySendOnTopic: r.sendTopics.has(topic) };
  }

  mayReceive(recipientKid: Uint8Array, topic: string): boolean {
    return this.receivers.get(hex(recipientKid))?.topics.has(topic) ?? false;
  }

  epoch(): number {
    return this.#epoch;
  }

  /** Changes a sender's record (bumps the epoch, like a directory update). */
  update(signKid: Uint8Array, change: Partial<Omit<SenderRecord, 'maySendOnTopic'>>): void {
    const r = this.senders.get(hex(signKid));
    if (r === undefined) throw new Error('no such sender');
    this.senders.set(hex(signKid), { ...r, ...change });
    this.#epoch++;
  }

  remove(signKid: Uint8Array): void {
    this.senders.delete(hex(signKid));
    this.#epoch++;
  }
}

export const SCHEMA_ID = 42;
/** The pinned id of the suite-2 envelope schema (schemas/envelope-xwing.avsc) in these tests. */
export const SCHEMA_ID_SUITE2 = 142;
export const TOPIC = 'orders.v1';
export const START_MS = 1_750_000_000_000;

export interface World {
  readonly provider: CryptoProvider;
  readonly clock: ManualClock;
  readonly namespace: Uint8Array;
  readonly resolver: MemoryResolver;
  readonly limits: EnvelopeDecodeLimits;
  readonly policy: OpenPolicy;
  readonly ids: Map<string, Identity>;
  id(name: string): Identity;
  /** The identity's suite-1 (default) or suite-2 key pair as an opener holds it. */
  recipientKey(name: string, suite?: 1 | 2): RecipientKeyPair;
  opener(name: string, extra?: { recipientKeys?: RecipientKeyPair[] }): EnvelopeOpener;
  session(
    from: string,
    to: readonly string[],
    opts?: Partial<SealingSessionOptions>,
  ): SealingSession;
}

/** Builds a world with the named identities, all allowed to send and receive on TOPIC and `topics`. */
export function makeWorld(
  provider: CryptoProvider,
  names: readonly string[],
  topics: readonly string[] = [],
): World {
  const clock = new ManualClock(START_MS);
  const namespace = kid(provider, 'ed25519', provider.signKeyPair().publicKey);
  const resolver = new MemoryResolver();
  const ids = new Map<string, Identity>();
  const allTopics = new Set([TOPIC, ...topics]);
  for (const name of names) {
    const box = provider.boxKeyPair();
    const sign = provider.signKeyPair();
    const xwing = provider.xwingKeyPairFromSeed(provider.randomBytes(32));
    const identity: Identity = {
      name,
      box,
      boxKid: kid(provider, 'x25519', box.publicKey),
      sign,
      signKid: kid(provider, 'ed25519', sign.publicKey),
      xwing,
      xwingKid: kid(provider, 'xwing', xwing.publicKey),
    };
    ids.set(name, identity);
    resolver.senders.set(hex(identity.signKid), {
      identity: name,
      signingPublicKey: sign.publicKey,
      status: 'active',
      validFromMs: START_MS - 86_400_000,
      validUntilMs: START_MS + 365 * 86_400_000,
      sendTopics: new Set(allTopics),
    });
    resolver.receivers.set(hex(identity.boxKid), { identity: name, topics: new Set(allTopics) });
    resolver.receivers.set(hex(identity.xwingKid), { identity: name, topics: new Set(allTopics) });
  }
  const limits: EnvelopeDecodeLimits = {
    envelopeSchemaId: SCHEMA_ID,
    suite2EnvelopeSchemaId: SCHEMA_ID_SUITE2,
    namespace,
    maxCiphertextBytes: 2 * 1024 * 1024,
  };
  const policy: OpenPolicy = {
    skewMs: 5 * 60_000,
    horizonMs: 7 * 86_400_000,
    maxSessionLifetimeMs: 86_400_000,
  };
  const id = (name: string): Identity => {
    const i = ids.get(name);
    if (i === undefined) throw new Error(`no identity ${name}`);
    return i;
  };
  const recipientKey = (name: string, suite: 1 | 2 = 1): RecipientKeyPair => {
    const i = id(name);
    return suite === 2
      ? { kid: i.xwingKid, publicKey: i.xwing.publicKey, secretKey: i.xwing.secretKey, suite: 2 }
      : { kid: i.boxKid, publicKey: i.box.publicKey, secretKey: i.box.secretKey };
  };
  return {
    provider,
    clock,
    namespace,
    resolver,
    limits,
    policy,
    ids,
    id,
    recipientKey,
    opener: (name, extra) =>
      new EnvelopeOpener({
        provider,
        clock,
        resolver,
        policy,
        limits,
        recipientKeys: extra?.recipientKeys ?? [recipientKey(name), recipientKey(name, 2)],
      }),
    session: (from, to, opts = {}) =>
      createSealingSession({
        provider,
        clock,
        envelopeSchemaId: opts.suite === 2 ? SCHEMA_ID_SUITE2 : SCHEMA_ID,
        namespace,
        topic: TOPIC,
        senderSigningSecretKey: id(from).sign.secretKey,
        recipients: to.map((n) =>
          opts.suite === 2
            ? { kid: id(n).xwingKid, publicKey: id(n).xwing.publicKey }
            : { kid: id(n).boxKid, publicKey: id(n).box.publicKey },
        ),
        streamId: provider.randomBytes(16),
        lifetimeMs: 3_600_000,
        maxMessages: 1000,
        maxCiphertextBytes: 2 * 1024 * 1024,
        ...opts,
      }),
  };
}

/** A 16-byte schema fingerprint for tests. */
export const SCHEMA_FP = new Uint8Array(16).fill(7);
