import type { SenderRecord, SenderResolver } from '../../envelope/sender-resolver.js';
import type { LoadedIdentity, UnwrappedKeyPair } from '../identity.js';
import { topicMatches } from './directory-record.js';
import type { KeyDirectory } from './key-directory.js';

/**
 * The envelope's SenderResolver (src/envelope/sender-resolver.ts) answered from a KeyDirectory.
 * Synchronous, no I/O. The caller checks head freshness (`directory.assertFresh()`) before opening.
 * Permissions come from the key's own record (the authority updates every record of an identity when
 * its permissions change). The directory's validUntil is exclusive; the envelope's is inclusive.
 */
export class DirectorySenderResolver implements SenderResolver {
  constructor(private readonly directory: KeyDirectory) {}

  resolveSender(senderKid: Uint8Array, topic: string): SenderRecord | undefined {
    const s = this.directory.senderKey(senderKid);
    if (s === undefined) return undefined;
    return {
      identity: s.identity,
      signingPublicKey: s.publicKey,
      status: s.status,
      validFromMs: s.validFromMs,
      validUntilMs: s.validUntilMs - 1,
      ...(s.retiredAtMs === null ? {} : { retiredAtMs: s.retiredAtMs }),
      maySendOnTopic: topicMatches(s.sendTopics, topic),
    };
  }

  mayReceive(recipientKid: Uint8Array, topic: string): boolean {
    const r = this.directory.recipientKey(recipientKid);
    return r !== undefined && r.status !== 'revoked' && topicMatches(r.receiveTopics, topic);
  }

  epoch(): number {
    return this.directory.epoch;
  }
}

/**
 * A key the opener may use, with the suite whose slots it opens: 1 = an X25519 box key (`secretKey`
 * the 32-byte scalar), 2 = an X-Wing key (`secretKey` the 32-byte seed, `publicKey` 1,216 bytes).
 * The key buffers are the identity's own (zeroed when it closes).
 */
export interface OpeningKey extends UnwrappedKeyPair {
  readonly suite: 1 | 2;
}

/**
 * Our keys the opener may use: the identity's active and retiring box keys (suite 1) and X-Wing keys
 * (suite 2) that the directory lists for it and has not revoked (a revoked key never opens, even if
 * it is still in memory).
 */
export function usableOpeningKeys(identity: LoadedIdentity, directory: KeyDirectory): OpeningKey[] {
  const usable = (k: UnwrappedKeyPair): boolean => {
    const r = directory.recipientKey(k.kid);
    return r !== undefined && r.identity === identity.name && r.status !== 'revoked';
  };
  return [
    ...identity
      .openingKeys()
      .filter(usable)
      .map((k): OpeningKey => ({
        kid: k.kid,
        publicKey: k.publicKey,
        secretKey: k.secretKey,
        suite: 1,
      })),
    ...identity
      .openingKemKeys()
      .filter(usable)
      .map((k): OpeningKey => ({
        kid: k.kid,
        publicKey: k.publicKey,
        secretKey: k.secretKey,
        suite: 2,
      })),
  ];
}
