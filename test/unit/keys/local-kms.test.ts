import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { CountingKms } from '../../../src/keys/kms/counting-kms.js';
import type { Kms } from '../../../src/keys/kms/kms.js';
import { KmsError } from '../../../src/keys/kms/kms-error.js';
import { LocalKms } from '../../../src/keys/kms/local-kms.js';
import { RetryingKms } from '../../../src/keys/kms/retrying-kms.js';
import { testCrypto } from '../../support/keys/test-crypto.js';

let dir: string;
let crypto: CryptoProvider;
const clock = new ManualClock();

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-lkms-'));
  crypto = await testCrypto();
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectKmsError(p: Promise<unknown>, code: string): Promise<KmsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmsError);
  expect((err as KmsError).code).toBe(code);
  return err as KmsError;
}

async function refusalOf(p: Promise<unknown>): Promise<KmsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmsError);
  return err as KmsError;
}

describe('LocalKms', () => {
  it('creates the keyring with mode 0600 and refuses to open it once group/other can read it', async () => {
    const path = join(dir, 'kek.json');
    const kms = await LocalKms.open({ path, crypto, clock, create: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await kms.close();
    await chmod(path, 0o640);
    const err = await expectKmsError(
      LocalKms.open({ path, crypto, clock }),
      'KMS_KEY_FILE_INSECURE',
    );
    expect(err.retriable).toBe(false);
    await chmod(path, 0o604);
    await expectKmsError(LocalKms.open({ path, crypto, clock }), 'KMS_KEY_FILE_INSECURE');
  });

  it('refuses a missing keyring unless asked to create it, and refuses unknown fields', async () => {
    const path = join(dir, 'kek.json');
    await expectKmsError(LocalKms.open({ path, crypto, clock }), 'KMS_CONFIG_INVALID');
    const kms = await LocalKms.open({ path, crypto, clock, create: true });
    await kms.close();
    const json = JSON.parse(await readFile(path, 'utf8'));
    json.extra = 1;
    await writeFile(path, JSON.stringify(json), { mode: 0o600 });
    await expectKmsError(LocalKms.open({ path, crypto, clock }), 'KMS_CONFIG_INVALID');
  });

  it('binds wraps to the version and the keyring: a moved or altered wrap does not open', async () => {
    const a = await LocalKms.open({
      path: join(dir, 'a.json'),
      crypto,
      clock,
      create: true,
      keyName: 'ring-a',
    });
    const b = await LocalKms.open({
      path: join(dir, 'b.json'),
      crypto,
      clock,
      create: true,
      keyName: 'ring-b',
    });
    const secret = crypto.randomBytes(32);
    const wrapped = await a.wrap(secret);
    expect(wrapped.startsWith('local:v1:')).toBe(true);
    expect(wrapped).not.toContain(Buffer.from(secret).toString('base64'));
    // Another keyring (different key and AAD).
    await expectKmsError(b.unwrap(wrapped), 'KMS_BAD_CIPHERTEXT');
    // A flipped byte in the body.
    const body = Buffer.from(wrapped.slice('local:v1:'.length), 'base64');
    body[30] = body[30]! ^ 1;
    await expectKmsError(a.unwrap(`local:v1:${body.toString('base64')}`), 'KMS_BAD_CIPHERTEXT');
    // Relabelled as another version: the AAD binds the version.
    await a.rotate();
    await expectKmsError(a.unwrap(wrapped.replace('local:v1:', 'local:v2:')), 'KMS_BAD_CIPHERTEXT');
    // Not ours at all.
    await expectKmsError(a.unwrap('vault:v1:AAAA'), 'KMS_BAD_CIPHERTEXT');
    await a.close();
    await b.close();
  });

  it('persists rotation and the minimum version: a reopened keyring unwraps what it should and nothing else', async () => {
    const path = join(dir, 'k.json');
    const kms = await LocalKms.open({ path, crypto, clock, create: true });
    const secret = crypto.randomBytes(32);
    const w1 = await kms.wrap(secret);
    await kms.rotate();
    const w2 = await kms.wrap(secret);
    await kms.close();
    expect((await refusalOf(kms.unwrap(w2))).code).toBe('KMS_CLOSED');
    const reopened = await LocalKms.open({ path, crypto, clock });
    expect(await reopened.describe()).toMatchObject({ latestVersion: 2, minDecryptionVersion: 1 });
    expect(await reopened.unwrap(w1)).toEqual(secret);
    await reopened.setMinDecryptionVersion(2);
    await reopened.close();
    const third = await LocalKms.open({ path, crypto, clock });
    await expectKmsError(third.unwrap(w1), 'KMS_VERSION_BELOW_MINIMUM');
    expect(await third.unwrap(w2)).toEqual(secret);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await third.close();
  });

  it('is provider-independent: what sodium-native wraps, libsodium-wrappers unwraps (and back)', async () => {
    const path = join(dir, 'k.json');
    const native = await createCryptoProvider('sodium-native');
    const wasm = await createCryptoProvider('libsodium-wrappers');
    const a = await LocalKms.open({ path, crypto: native, clock, create: true });
    const secret = native.randomBytes(32);
    const w1 = await a.wrap(secret);
    await a.close();
    const b = await LocalKms.open({ path, crypto: wasm, clock });
    expect(await b.unwrap(w1)).toEqual(secret);
    const w2 = await b.wrap(secret);
    await b.close();
    const c = await LocalKms.open({ path, crypto: native, clock });
    expect(await c.unwrap(w2)).toEqual(secret);
    await c.close();
  });

  it('counts calls through the CountingKms decorator', async () => {
    const inner = await LocalKms.open({ path: join(dir, 'k.json'), crypto, clock, create: true });
    const kms = new CountingKms(inner);
    const w = await kms.wrap(crypto.randomBytes(32));
    await kms.unwrap(w);
    await kms.unwrap(w);
    expect(kms.counts()).toMatchObject({ wrap: 1, unwrap: 2, rewrap: 0 });
    expect(kms.total()).toBe(3);
    await kms.close();
  });
});

describe('RetryingKms', () => {
  /** A fake port of our own logic: fails `failures` times with `code`, then succeeds. */
  function flaky(
    code: 'KMS_UNAVAILABLE' | 'KMS_PERMISSION_DENIED',
    failures: number,
  ): Kms & { calls: number } {
    const k = {
      calls: 0,
      reference: { kind: 'local', keyName: 'fake' } as const,
      unwrap(): Promise<Uint8Array> {
        k.calls++;
        if (k.calls <= failures) return Promise.reject(new KmsError(code, `fake ${code}`));
        return Promise.resolve(Uint8Array.of(1));
      },
      wrap: () => Promise.reject(new Error('unused')),
      rewrap: () => Promise.reject(new Error('unused')),
      rotate: () => Promise.reject(new KmsError('KMS_UNAVAILABLE', 'down')),
      describe: () => Promise.reject(new Error('unused')),
      setMinDecryptionVersion: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    };
    return k;
  }

  it('retries transient errors with capped exponential backoff and succeeds', async () => {
    const c = new ManualClock();
    const sleeps: number[] = [];
    const inner = flaky('KMS_UNAVAILABLE', 5);
    const kms = new RetryingKms(inner, {
      clock: c,
      initialDelayMs: 100,
      maxDelayMs: 400,
      deadlineMs: 10_000,
      sleep: (ms) => {
        sleeps.push(ms);
        c.advance(ms);
        return Promise.resolve();
      },
    });
    expect(await kms.unwrap('local:v1:x')).toEqual(Uint8Array.of(1));
    expect(inner.calls).toBe(6);
    expect(sleeps).toEqual([100, 200, 400, 400, 400]);
  });

  it('gives up at the deadline with the typed, retriable code', async () => {
    const c = new ManualClock();
    const inner = flaky('KMS_UNAVAILABLE', 1000);
    const kms = new RetryingKms(inner, {
      clock: c,
      deadlineMs: 1000,
      sleep: (ms) => {
        c.advance(ms);
        return Promise.resolve();
      },
    });
    const err = await expectKmsError(kms.unwrap('local:v1:x'), 'KMS_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/gave up on unwrap after \d+ attempts/);
    expect(c.nowMs() - 1_700_000_000_000).toBeLessThanOrEqual(1000);
  });

  it('fails permanent errors at once, and never retries rotate', async () => {
    const c = new ManualClock();
    const inner = flaky('KMS_PERMISSION_DENIED', 1000);
    const kms = new RetryingKms(inner, { clock: c, sleep: () => Promise.resolve() });
    await expectKmsError(kms.unwrap('local:v1:x'), 'KMS_PERMISSION_DENIED');
    expect(inner.calls).toBe(1);
    await expectKmsError(kms.rotate(), 'KMS_UNAVAILABLE');
  });
});
