/**
 * #21.1: a KMS rewrap covers identity files and token-key files together, and the minimum decryption
 * version is raised only when nothing the KMS key wrapped is below it (else KMS_REWRAP_INCOMPLETE
 * naming each, and the KMS key unchanged). Local KMS keyring in a temp dir (our own logic).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { KmsError } from '../../../src/keys/kms/kms-error.js';
import { LocalKms } from '../../../src/keys/kms/local-kms.js';
import {
  createIdentity,
  identityFilesHolder,
  openIdentity,
  rewrapIdentity,
  rewrapWrappedKeys,
} from '../../../src/keys/operations.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import {
  generateTokenKeyFile,
  openTokenKeyring,
  writeTokenKeyFile,
} from '../../../src/tokenize/token-key-file.js';
import { tokenKeyFilesHolder } from '../../../src/tokenize/token-key-rewrap.js';
import { testCrypto } from '../../support/keys/test-crypto.js';

let dir: string;
let crypto: CryptoProvider;
let kms: LocalKms;
const clock = new ManualClock();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-inventory-'));
  crypto = await testCrypto();
  kms = await LocalKms.open({ path: join(dir, 'kek.json'), crypto, clock, create: true });
  for (const name of ['orders', 'billing'])
    await createIdentity({ path: join(dir, `${name}.json`), name, kms, crypto, clock });
  await writeTokenKeyFile(
    join(dir, 'token-keys.json'),
    await generateTokenKeyFile(['card'], { kms, crypto, clock }),
  );
});
afterEach(async () => {
  await kms.close();
  await rm(dir, { recursive: true, force: true });
});

const everything = () => [identityFilesHolder({ dir, crypto }), tokenKeyFilesHolder(dir)];

describe('rewrap and raise the minimum over everything a KMS key wrapped', () => {
  it('refuses to raise while a file is below the latest version, naming each, and changes nothing', async () => {
    const err = await rewrapIdentity({
      path: join(dir, 'orders.json'),
      kms,
      crypto,
      rotateKmsKeyFirst: true,
      raiseMinDecryptionVersion: true,
      inventory: everything(),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KmsError);
    expect((err as KmsError).code).toBe('KMS_REWRAP_INCOMPLETE');
    const message = (err as KmsError).message;
    expect(message).toContain(`identity file ${join(dir, 'billing.json')} generation 1 at v1`);
    expect(message).toContain(
      `token-key file ${join(dir, 'token-keys.json')} class card key v1 at v1`,
    );
    expect(message).not.toContain('orders.json');
    expect(await kms.describe()).toMatchObject({ latestVersion: 2, minDecryptionVersion: 1 });
  });

  it('rewraps identity files and token-key files together; then the minimum is raised and they all load', async () => {
    const r = await rewrapWrappedKeys({
      kms,
      holders: everything(),
      inventory: everything(),
      rotateKmsKeyFirst: true,
    });
    expect(r.rewrapped.map((i) => i.version)).toEqual([2, 2, 2]);
    const raised = await rewrapWrappedKeys({
      kms,
      holders: everything(),
      inventory: everything(),
      raiseMinDecryptionVersion: true,
    });
    expect(raised.rewrapped).toEqual([]);
    expect(raised.kms).toMatchObject({ latestVersion: 2, minDecryptionVersion: 2 });
    for (const name of ['orders', 'billing'])
      (await openIdentity({ path: join(dir, `${name}.json`), kms, crypto })).close();
    const ring = await openTokenKeyring({ path: join(dir, 'token-keys.json'), kms, crypto });
    expect(ring).toBeDefined();
  });
});
