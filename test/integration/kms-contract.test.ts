/**
 * The KMS contract: one suite every KMS implementation must pass — the local keyring and OpenBao
 * Transit (the real OpenBao of the local stack, never a stand-in).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { Kms } from '../../src/keys/kms/kms.js';
import { wrappedKeyVersion } from '../../src/keys/kms/kms.js';
import { KmsError } from '../../src/keys/kms/kms-error.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { testCrypto } from '../support/keys/test-crypto.js';

/** Builds fresh, independent KMS keys of one implementation; `secrets` must never appear in errors. */
interface KmsFactory {
  readonly name: string;
  readonly prefix: string;
  setup(): Promise<void>;
  newKms(): Promise<Kms>;
  secrets(): string[];
  teardown(): Promise<void>;
}

let crypto: CryptoProvider;
let dir: string;

const localFactory: KmsFactory = {
  name: 'local keyring',
  prefix: 'local:',
  async setup() {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-kms-contract-'));
  },
  async newKms() {
    return LocalKms.open({
      path: join(dir, `${randomBytes(4).toString('hex')}.json`),
      crypto,
      clock: systemClock,
      create: true,
    });
  },
  secrets: () => [],
  async teardown() {
    await rm(dir, { recursive: true, force: true });
  },
};

let admin: BaoAdmin;
const transitFactory: KmsFactory = {
  name: 'OpenBao Transit (stack)',
  prefix: 'vault:',
  async setup() {
    const e = getEndpoints();
    admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
    await admin.ensureTransit();
  },
  async newKms() {
    const keyName = `test-kms-contract-${randomBytes(6).toString('hex')}`;
    await admin.createTransitKey(keyName);
    return OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
    });
  },
  secrets: () => [admin.token],
  async teardown() {},
};

async function refusal(p: Promise<unknown>): Promise<KmsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmsError);
  return err as KmsError;
}

describe.each([localFactory, transitFactory])('KMS contract: $name', (factory) => {
  const opened: Kms[] = [];
  const fresh = async (): Promise<Kms> => {
    const k = await factory.newKms();
    opened.push(k);
    return k;
  };
  const assertClean = (err: KmsError, plaintext?: Uint8Array): void => {
    for (const s of factory.secrets()) expect(err.message).not.toContain(s);
    if (plaintext !== undefined)
      expect(err.message).not.toContain(Buffer.from(plaintext).toString('base64'));
  };

  beforeAll(async () => {
    crypto = await testCrypto();
    await factory.setup();
  });
  afterAll(async () => {
    for (const k of opened) await k.close();
    await factory.teardown();
  });

  it('wraps and unwraps 32- and 64-byte keys; wraps are randomized and versioned', async () => {
    const kms = await fresh();
    for (const len of [32, 64]) {
      const secret = crypto.randomBytes(len);
      const w1 = await kms.wrap(secret);
      const w2 = await kms.wrap(secret);
      expect(w1.startsWith(`${factory.prefix}v1:`)).toBe(true);
      expect(wrappedKeyVersion(w1)).toBe(1);
      expect(w1).not.toBe(w2);
      expect(w1).not.toContain(Buffer.from(secret).toString('base64'));
      expect(await kms.unwrap(w1)).toEqual(secret);
      expect(await kms.unwrap(w2)).toEqual(secret);
    }
    const d = await kms.describe();
    expect(d).toMatchObject({ latestVersion: 1, minDecryptionVersion: 1 });
    expect(d.reference).toEqual(kms.reference);
  });

  it('refuses tampered, foreign and malformed wrapped keys with KMS_BAD_CIPHERTEXT (not retriable)', async () => {
    const kms = await fresh();
    const other = await fresh();
    const secret = crypto.randomBytes(32);
    const w = await kms.wrap(secret);
    const prefix = `${factory.prefix}v1:`;
    const body = Buffer.from(w.slice(prefix.length), 'base64');
    body[body.length - 1] = body[body.length - 1]! ^ 0x01;
    for (const bad of [
      `${prefix}${body.toString('base64')}`,
      await other.wrap(secret),
      `${factory.prefix}v1:`,
      'nonsense',
    ]) {
      const err = await refusal(kms.unwrap(bad));
      expect(err.code).toBe('KMS_BAD_CIPHERTEXT');
      expect(err.retriable).toBe(false);
      assertClean(err, secret);
    }
  });

  it('rotates: new wraps use the new version, old ones still unwrap, rewrap moves them up', async () => {
    const kms = await fresh();
    const secret = crypto.randomBytes(32);
    const w1 = await kms.wrap(secret);
    const d = await kms.rotate();
    expect(d).toMatchObject({ latestVersion: 2, minDecryptionVersion: 1 });
    const w2 = await kms.wrap(secret);
    expect(wrappedKeyVersion(w2)).toBe(2);
    expect(await kms.unwrap(w1)).toEqual(secret);
    const rewrapped = await kms.rewrap(w1);
    expect(wrappedKeyVersion(rewrapped)).toBe(2);
    expect(rewrapped.startsWith(factory.prefix)).toBe(true);
    expect(await kms.unwrap(rewrapped)).toEqual(secret);
  });

  it('raising min_decryption_version refuses older wraps with KMS_VERSION_BELOW_MINIMUM; it never goes down', async () => {
    const kms = await fresh();
    const secret = crypto.randomBytes(32);
    const old = await kms.wrap(secret);
    await kms.rotate();
    const rewrapped = await kms.rewrap(old);
    const d = await kms.setMinDecryptionVersion(2);
    expect(d).toMatchObject({ latestVersion: 2, minDecryptionVersion: 2 });
    const err = await refusal(kms.unwrap(old));
    expect(err.code).toBe('KMS_VERSION_BELOW_MINIMUM');
    expect(err.retriable).toBe(false);
    assertClean(err, secret);
    expect((await refusal(kms.rewrap(old))).code).toBe('KMS_VERSION_BELOW_MINIMUM');
    expect(await kms.unwrap(rewrapped)).toEqual(secret);
    expect((await refusal(kms.setMinDecryptionVersion(1))).code).toBe('KMS_REQUEST_REJECTED');
    expect((await refusal(kms.setMinDecryptionVersion(3))).code).toBe('KMS_REQUEST_REJECTED');
    expect(await kms.describe()).toMatchObject({ minDecryptionVersion: 2 });
  });

  it('refuses an empty plaintext and any call after close', async () => {
    const kms = await factory.newKms();
    expect((await refusal(kms.wrap(new Uint8Array(0)))).code).toBe('KMS_REQUEST_REJECTED');
    const w = await kms.wrap(crypto.randomBytes(32));
    await kms.close();
    expect((await refusal(kms.unwrap(w))).code).toBe('KMS_CLOSED');
    expect((await refusal(kms.describe())).code).toBe('KMS_CLOSED');
  });
});
