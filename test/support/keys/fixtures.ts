import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import {
  generateIdentityFile,
  loadIdentity,
  publicGenerations,
} from '../../../src/keys/identity-file.js';
import type { IdentityFile } from '../../../src/keys/identity-file.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';
import { LocalKms } from '../../../src/keys/kms/local-kms.js';
import { testCrypto } from './test-crypto.js';

export const DAY_MS = 86_400_000;

/** A temp dir, a manual clock, a local KMS and an authority: the world most keys tests need. */
export interface KeysWorld {
  readonly dir: string;
  readonly crypto: CryptoProvider;
  readonly clock: ManualClock;
  readonly kms: LocalKms;
  readonly authority: LoadedIdentity;
  readonly authorityFile: IdentityFile;
  /** A fresh service identity with a draft record for it. */
  service(
    name: string,
    sendTopics: string[],
    receiveTopics: string[],
  ): Promise<{ file: IdentityFile; draft: DirectoryRecordDraft }>;
  cleanup(): Promise<void>;
}

export async function makeWorld(): Promise<KeysWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-keys-'));
  const crypto = await testCrypto();
  const clock = new ManualClock(1_800_000_000_000);
  const kms = await LocalKms.open({ path: join(dir, 'kek.json'), crypto, clock, create: true });
  const authorityFile = await generateIdentityFile('authority', 'authority', {
    crypto,
    kms,
    clock,
  });
  const authority = await loadIdentity(authorityFile, { crypto, kms });
  return {
    dir,
    crypto,
    clock,
    kms,
    authority,
    authorityFile,
    async service(name, sendTopics, receiveTopics) {
      const file = await generateIdentityFile(name, 'service', { crypto, kms, clock });
      return { file, draft: draftFor(file, sendTopics, receiveTopics, clock.nowMs()) };
    },
    async cleanup() {
      authority.close();
      await kms.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The directory draft for an identity's active generation. */
export function draftFor(
  file: IdentityFile,
  sendTopics: string[],
  receiveTopics: string[],
  nowMs: number,
): DirectoryRecordDraft {
  const g = publicGenerations(file).find((x) => x.state === 'active')!;
  return {
    identity: file.name,
    status: 'active',
    boxKid: g.boxKid,
    boxPublicKey: g.boxPublicKey,
    signKid: g.signKid,
    signPublicKey: g.signPublicKey,
    validFromMs: nowMs - 1000,
    validUntilMs: nowMs + 365 * DAY_MS,
    retiredAtMs: null,
    sendTopics,
    receiveTopics,
  };
}
