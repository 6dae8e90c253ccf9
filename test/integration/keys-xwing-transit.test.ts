/**
 * X-Wing key pairs (suite 2) wrapped by real OpenBao Transit: created, loaded with one unwrap per key,
 * rewrapped under a rotated Transit key, and shredded with their generation.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { readIdentityFile } from '../../src/keys/identity-file.js';
import { CountingKms } from '../../src/keys/kms/counting-kms.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import {
  createIdentity,
  destroyRetired,
  openIdentity,
  rewrapIdentity,
  rotateIdentity,
} from '../../src/keys/operations.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { getEndpoints } from '../support/endpoints.js';
import { testCrypto } from '../support/keys/test-crypto.js';
import { BaoAdmin } from '../support/openbao-process.js';

let crypto: CryptoProvider;
let admin: BaoAdmin;
let dir: string;
const suffix = randomBytes(4).toString('hex');

beforeAll(async () => {
  crypto = await testCrypto();
  const e = getEndpoints();
  admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
  await admin.ensureTransit();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-xwing-transit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('X-Wing seeds under OpenBao Transit', () => {
  it('wraps, unwraps once, rewraps after a Transit key rotation and shreds with the generation', async () => {
    const key = `test-xwing-${suffix}`;
    await admin.createTransitKey(key);
    const clock = new ManualClock(1_800_000_000_000);
    const transit = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'token', token: getEndpoints().vaultToken },
      clock,
    });
    const kms = new CountingKms(transit);
    const path = join(dir, 'orders.json');
    const created = await createIdentity({ path, name: 'orders', xwing: true, kms, crypto, clock });
    expect(kms.counts().wrap).toBe(3);
    const file = await readIdentityFile(path, crypto);
    expect(file.generations[0]!.kem!.wrappedSeed!.startsWith('vault:v1:')).toBe(true);
    expect(created.generations[0]!.kemKid).toBe(file.generations[0]!.kem!.kid);

    const id = await openIdentity({ path, kms, crypto });
    expect(kms.counts().unwrap).toBe(3);
    const kem = id.active().kem!;
    const enc = crypto.xwingEncapsulate(kem.publicKey);
    expect(crypto.xwingDecapsulate(enc.ciphertext, kem.secretKey)).toEqual(enc.sharedSecret);
    id.close();

    const rewrapped = await rewrapIdentity({ path, kms, crypto, rotateKmsKeyFirst: true });
    expect(rewrapped.summary.generations[0]!.wrappedWithVersion).toBe(2);
    const after = await readIdentityFile(path, crypto);
    expect(after.generations[0]!.kem!.wrappedSeed!.startsWith('vault:v2:')).toBe(true);

    clock.advance(1000);
    await rotateIdentity({ path, kms, crypto, clock });
    clock.advance(1000);
    const { destroyed } = await destroyRetired({ path, retentionMs: 500, crypto, clock });
    expect(destroyed).toEqual([1]);
    const shredded = await readFile(path, 'utf8');
    expect(shredded).not.toContain(after.generations[0]!.kem!.wrappedSeed!);
    const reopened = await openIdentity({ path, kms, crypto });
    expect(reopened.openingKemKeys()).toHaveLength(1);
    for (const k of reopened.openingKemKeys())
      expect(crypto.xwingDecapsulate(enc.ciphertext, k.secretKey)).not.toEqual(enc.sharedSecret);
    reopened.close();
    await kms.close();
  });
});
