/**
 * OpenBao Transit specifics against real OpenBao: AppRole scoped to one key, token renewal and
 * re-login, namespaces, OpenBao unreachable at start, OpenBao stopped while keys are in memory, and
 * the number of KMS calls per start.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { systemClock } from '../../src/runtime/clock.js';
import { createSealingSession, EnvelopeOpener } from '../../src/envelope/index.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { generateIdentityFile, loadIdentity } from '../../src/keys/identity-file.js';
import type { KmsCallCounts } from '../../src/keys/kms/counting-kms.js';
import type { Kms } from '../../src/keys/kms/kms.js';
import {
  authorityPublicKey,
  createIdentity,
  initAuthority,
  publishDirectory,
  rotateIdentity,
} from '../../src/keys/operations.js';
import { ServiceKeys } from '../../src/keys/service-keys.js';
import { CountingKms } from '../../src/keys/kms/counting-kms.js';
import { KmsError } from '../../src/keys/kms/kms-error.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import { RetryingKms } from '../../src/keys/kms/retrying-kms.js';
import { getEndpoints } from '../support/endpoints.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { BaoAdmin, freePort, OpenBaoProcess } from '../support/openbao-process.js';
import { testCrypto } from '../support/keys/test-crypto.js';

let crypto: CryptoProvider;
let admin: BaoAdmin;
let dir: string;
const suffix = randomBytes(4).toString('hex');

beforeAll(async () => {
  crypto = await testCrypto();
  const e = getEndpoints();
  admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
  await admin.ensureTransit();
  await admin.ensureAppRole();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-transit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<KmsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmsError);
  return err as KmsError;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Transit with AppRole', () => {
  it("service A unwraps its own keys and is refused service B's key with KMS_PERMISSION_DENIED", async () => {
    const keyA = `test-svc-a-${suffix}`;
    const keyB = `test-svc-b-${suffix}`;
    await admin.createTransitKey(keyA);
    await admin.createTransitKey(keyB);
    await admin.putKeyPolicy(`test-pol-a-${suffix}`, keyA);
    const roleA = await admin.createAppRole(`test-role-a-${suffix}`, [`test-pol-a-${suffix}`]);
    const rootB = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: keyB,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
    });

    // A's identity file, wrapped by A's key through AppRole.
    const kmsA = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: keyA,
      auth: { method: 'approle', ...roleA },
      clock: systemClock,
    });
    const fileA = await generateIdentityFile('svc-a', 'service', {
      crypto,
      kms: kmsA,
      clock: systemClock,
    });
    const idA = await loadIdentity(fileA, { crypto, kms: kmsA });
    expect(idA.active().box.publicKey.length).toBe(32);
    idA.close();

    // The same AppRole pointed at B's key: refused, typed, no secret in the message.
    const wrappedB = await rootB.wrap(crypto.randomBytes(32));
    const kmsAonB = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: keyB,
      auth: { method: 'approle', ...roleA },
      clock: systemClock,
    });
    for (const call of [
      () => kmsAonB.unwrap(wrappedB),
      () => kmsAonB.wrap(crypto.randomBytes(32)),
      () => kmsAonB.describe(),
    ]) {
      const err = await refusal(call());
      expect(err.code).toBe('KMS_PERMISSION_DENIED');
      expect(err.retriable).toBe(false);
      expect(err.httpStatus).toBe(403);
      for (const secret of [roleA.roleId, roleA.secretId, admin.token])
        expect(err.message).not.toContain(secret);
    }
    // Decrypting B's wrapped key under A's key name is not a way around the policy either.
    expect((await refusal(kmsA.unwrap(wrappedB))).code).toBe('KMS_BAD_CIPHERTEXT');

    // A bad secret id: KMS_AUTH_FAILED, at once.
    const bad = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: keyA,
      auth: { method: 'approle', roleId: roleA.roleId, secretId: 'not-the-secret' },
      clock: systemClock,
    });
    const authErr = await refusal(bad.wrap(crypto.randomBytes(32)));
    expect(authErr.code).toBe('KMS_AUTH_FAILED');
    expect(authErr.message).not.toContain('not-the-secret');
    for (const k of [kmsA, kmsAonB, rootB, bad]) await k.close();
  });

  it('logs in again when the AppRole token reaches its max TTL', async () => {
    const key = `test-svc-relogin-${suffix}`;
    await admin.createTransitKey(key);
    await admin.putKeyPolicy(`test-pol-relogin-${suffix}`, key);
    const role = await admin.createAppRole(
      `test-role-relogin-${suffix}`,
      [`test-pol-relogin-${suffix}`],
      { tokenTtl: '2s', tokenMaxTtl: '3s' },
    );
    const kms = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'approle', ...role },
      clock: systemClock,
    });
    const secret = crypto.randomBytes(32);
    const w = await kms.wrap(secret);
    await sleep(4500); // beyond the max TTL: renewal alone cannot keep the first token alive
    expect(await kms.unwrap(w)).toEqual(secret);
    await kms.close();
  });
});

describe('Transit token renewal', () => {
  it('renews a short-TTL token in the background so it outlives its first TTL', async () => {
    const key = `test-svc-renew-${suffix}`;
    await admin.createTransitKey(key);
    await admin.putKeyPolicy(`test-pol-renew-${suffix}`, key);
    // A renewable token that would expire after 3 s without renewal.
    const token = await admin.createToken([`test-pol-renew-${suffix}`], '3s', {
      explicitMaxTtl: '60s',
    });
    const kms = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'token', token },
      clock: systemClock,
      // Renew at 40 % of the 3 s TTL: 1.8 s of slack for a loaded machine (the default, 66 %, leaves 1 s).
      renewFraction: 0.4,
    });
    const secret = crypto.randomBytes(32);
    const w = await kms.wrap(secret);
    await sleep(5000);
    expect(await admin.tokenTtl(token)).toBeGreaterThan(0);
    expect(await kms.unwrap(w)).toEqual(secret);
    await kms.close();
    // After close no renewal happens: the token lapses.
    await sleep(3500);
    expect(await admin.tokenTtl(token)).toBe(-1);
  });

  it('retries a background renewal that failed while OpenBao was unreachable, before the token lapses', async () => {
    const key = `test-svc-renew-retry-${suffix}`;
    await admin.createTransitKey(key);
    await admin.putKeyPolicy(`test-pol-renew-retry-${suffix}`, key);
    const token = await admin.createToken([`test-pol-renew-retry-${suffix}`], '6s', {
      explicitMaxTtl: '60s',
    });
    const target = new URL(admin.addr);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.start();
    const kms = await OpenBaoTransitKms.create({
      endpoint: `${target.protocol}//127.0.0.1:${proxy.port}`,
      keyName: key,
      auth: { method: 'token', token },
      clock: systemClock,
      // First background renewal about 1.2 s after the lookup; the outage covers it.
      renewFraction: 0.2,
      requestTimeoutMs: 1000,
    });
    try {
      const secret = crypto.randomBytes(32);
      const w = await kms.wrap(secret);
      await proxy.stop();
      await sleep(2500);
      await proxy.start();
      // No KMS call is made: only the retried background renewal can keep the token alive past 6 s.
      await sleep(5500);
      expect(await admin.tokenTtl(token)).toBeGreaterThan(0);
      expect(await kms.unwrap(w)).toEqual(secret);
    } finally {
      await kms.close();
      await proxy.stop();
    }
  });

  it('an expired non-renewable token fails closed with a typed error', async () => {
    const key = `test-svc-expire-${suffix}`;
    await admin.createTransitKey(key);
    await admin.putKeyPolicy(`test-pol-expire-${suffix}`, key);
    const token = await admin.createToken([`test-pol-expire-${suffix}`], '2s', {
      renewable: false,
    });
    const kms = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'token', token },
      clock: systemClock,
    });
    const w = await kms.wrap(crypto.randomBytes(32));
    await sleep(3000);
    const err = await refusal(kms.unwrap(w));
    expect(err.code).toBe('KMS_PERMISSION_DENIED');
    expect(err.message).not.toContain(token);
    await kms.close();
  });
});

describe('Transit namespaces', () => {
  it('sends X-Vault-Namespace: a key in a namespace is found there and not at the root', async () => {
    const ns = `testns${suffix}`;
    await admin.call('POST', `sys/namespaces/${ns}`, {});
    const h = { 'X-Vault-Namespace': ns };
    await admin.ensureTransit('transit', h);
    const key = `test-ns-key-${suffix}`;
    await admin.createTransitKey(key, 'transit', h);
    const inNs = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      namespace: ns,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
    });
    const secret = crypto.randomBytes(32);
    expect(await inNs.unwrap(await inNs.wrap(secret))).toEqual(secret);
    expect(inNs.reference).toMatchObject({ kind: 'openbao-transit', namespace: ns });
    const atRoot = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
    });
    expect((await refusal(atRoot.describe())).code).toBe('KMS_KEY_NOT_FOUND');
    await inNs.close();
    await atRoot.close();
  });
});

describe('OpenBao availability', () => {
  /** Authority + producer + consumer wrapped by `kms`, and a published directory file. */
  async function world(
    kms: Kms,
    tag: string,
  ): Promise<{
    paths: Record<'authority' | 'producer' | 'consumer' | 'directory', string>;
    pinned: Uint8Array;
  }> {
    const base = join(dir, tag);
    await mkdir(base);
    const paths = {
      authority: join(base, 'authority.json'),
      producer: join(base, 'producer.json'),
      consumer: join(base, 'consumer.json'),
      directory: join(base, 'directory.json'),
    };
    const ops = { crypto, clock: systemClock, kms };
    await initAuthority({ path: paths.authority, ...ops });
    await createIdentity({ path: paths.producer, name: 'producer', ...ops });
    await createIdentity({ path: paths.consumer, name: 'consumer', ...ops });
    await publishDirectory({
      authorityFile: paths.authority,
      ...ops,
      location: { kind: 'file', path: paths.directory },
      grants: [
        { identityFile: paths.producer, sendTopics: ['orders'], receiveTopics: [] },
        { identityFile: paths.consumer, sendTopics: [], receiveTopics: ['orders'] },
      ],
    });
    return { paths, pinned: (await authorityPublicKey(paths.authority, crypto)).publicKey };
  }

  it('unreachable at start: the service refuses to start within 10 s with KMS_UNAVAILABLE and holds nothing', async () => {
    const key = `test-svc-down-${suffix}`;
    await admin.createTransitKey(key);
    const good = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
    });
    const { paths, pinned } = await world(good, 'down');
    await good.close();
    // The same key, but the KMS address is a port nothing listens on.
    const port = await freePort();
    const inner = await OpenBaoTransitKms.create({
      endpoint: `http://127.0.0.1:${port}`,
      keyName: key,
      auth: { method: 'token', token: admin.token },
      clock: systemClock,
      requestTimeoutMs: 1000,
    });
    const retries: string[] = [];
    const kms = new CountingKms(
      new RetryingKms(inner, {
        clock: systemClock,
        deadlineMs: 5000,
        onRetry: (e) => retries.push(e.code),
      }),
    );
    const started = Date.now();
    const err = await refusal(
      ServiceKeys.open({
        identityPath: paths.producer,
        kms,
        crypto,
        clock: systemClock,
        authorityPublicKey: pinned,
        directorySource: new FileDirectorySource(paths.directory),
      }),
    );
    const elapsedMs = Date.now() - started;
    expect(err.code).toBe('KMS_UNAVAILABLE');
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(
      /unreachable \(ECONNREFUSED\).*gave up on unwrap after \d+ attempts/,
    );
    expect(err.message).not.toContain(admin.token);
    expect(elapsedMs).toBeLessThan(10_000);
    expect(elapsedMs).toBeGreaterThanOrEqual(4000);
    expect(retries.length).toBeGreaterThan(2);
    // It stopped at the first key: nothing else was attempted, nothing was produced.
    expect(kms.counts()).toMatchObject({ unwrap: 1, wrap: 0 });
    await kms.close();
  });

  it('stopped while running: sealing and opening go on from the keys in memory; start cost = one unwrap per key', async () => {
    const bao = await OpenBaoProcess.start();
    try {
      await bao.admin.createTransitKey('svc-outage');
      const inner = await OpenBaoTransitKms.create({
        endpoint: bao.addr,
        keyName: 'svc-outage',
        auth: { method: 'token', token: bao.rootToken },
        clock: systemClock,
      });
      const kms = new CountingKms(new RetryingKms(inner, { clock: systemClock, deadlineMs: 1500 }));
      const { paths, pinned } = await world(kms, 'outage');
      // Rotate the consumer once so it holds two generations (four private keys).
      await rotateIdentity({ path: paths.consumer, crypto, clock: systemClock, kms });
      const before = kms.counts();

      // Two "process starts".
      const open = (identityPath: string): Promise<ServiceKeys> =>
        ServiceKeys.open({
          identityPath,
          kms,
          crypto,
          clock: systemClock,
          authorityPublicKey: pinned,
          directorySource: new FileDirectorySource(paths.directory),
          refreshIntervalMs: 0,
        });
      const producer = await open(paths.producer);
      const consumer = await open(paths.consumer);
      expect(kms.counts().unwrap - before.unwrap).toBe(2 + 4);
      expect(kms.total() - totalOf(before)).toBe(6);

      await bao.stop();

      // A session of 200 messages sealed and opened with the real envelope: no KMS call at all.
      const callsAtOutage = kms.total();
      const session = createSealingSession({
        provider: crypto,
        clock: systemClock,
        envelopeSchemaId: 1,
        namespace: producer.namespace,
        topic: 'orders',
        senderSigningSecretKey: producer.signingKey().secretKey,
        recipients: producer.policy.allowedRecipients('orders'),
        streamId: crypto.randomBytes(16),
        lifetimeMs: 60_000,
        maxMessages: 1000,
      });
      const opener = new EnvelopeOpener({
        provider: crypto,
        clock: systemClock,
        resolver: consumer.resolver,
        policy: { skewMs: 60_000, horizonMs: 86_400_000, maxSessionLifetimeMs: 3_600_000 },
        limits: { envelopeSchemaId: 1, namespace: consumer.namespace, maxCiphertextBytes: 1 << 20 },
        recipientKeys: consumer.openingKeys(),
      });
      let delivered = 0;
      for (let seq = 0; seq < 200; seq++) {
        const payload = crypto.randomBytes(100);
        const sealed = session.seal({
          partition: 0,
          seq,
          key: null,
          schemaFp: new Uint8Array(16),
          contentType: 'application/octet-stream',
          payload,
        });
        const r = opener.open(sealed.value, { topic: 'orders', partition: 0, key: null });
        if (r.kind === 'delivered' && Buffer.from(r.message.payload).equals(Buffer.from(payload)))
          delivered++;
      }
      session.close();
      expect(delivered).toBe(200);
      expect(kms.total()).toBe(callsAtOutage);
      // The directory (a file) still refreshes; the KMS is not involved.
      await consumer.directory.refresh();

      // A new start now fails typed and retriable after the bounded retry.
      expect((await refusal(open(paths.consumer))).code).toBe('KMS_UNAVAILABLE');
      producer.close();
      consumer.close();
      expect(() => consumer.signingKey()).toThrow(/closed/);
      await kms.close();
    } finally {
      await bao.stop();
    }
  });
});

function totalOf(c: KmsCallCounts): number {
  return c.wrap + c.unwrap + c.rewrap + c.rotate + c.describe + c.setMinDecryptionVersion;
}

describe('Transit over TLS and a sealed server (private OpenBao)', () => {
  it('verifies the server with the CA file; without it the call fails closed with KMS_TLS_FAILED', async () => {
    const bao = await OpenBaoProcess.start({ tls: true });
    try {
      expect(bao.addr.startsWith('https://')).toBe(true);
      await bao.admin.createTransitKey('tls-key');
      const kms = await OpenBaoTransitKms.create({
        endpoint: bao.addr,
        keyName: 'tls-key',
        caFile: bao.caFile!,
        auth: { method: 'token', token: bao.rootToken },
        clock: systemClock,
      });
      const secret = crypto.randomBytes(32);
      expect(await kms.unwrap(await kms.wrap(secret))).toEqual(secret);
      await kms.close();

      const untrusting = await OpenBaoTransitKms.create({
        endpoint: bao.addr,
        keyName: 'tls-key',
        auth: { method: 'token', token: bao.rootToken },
        clock: systemClock,
      });
      const err = await refusal(untrusting.wrap(secret));
      expect(err.code).toBe('KMS_TLS_FAILED');
      expect(err.retriable).toBe(false);
      await untrusting.close();
      await expect(
        OpenBaoTransitKms.create({
          endpoint: bao.addr,
          keyName: 'tls-key',
          caFile: join(dir, 'missing.pem'),
          auth: { method: 'token', token: bao.rootToken },
          clock: systemClock,
        }),
      ).rejects.toMatchObject({ code: 'KMS_CONFIG_INVALID' });
    } finally {
      await bao.stop();
    }
  });

  it('a sealed server is KMS_SEALED (retriable): retried until the deadline, then reported', async () => {
    const bao = await OpenBaoProcess.start();
    try {
      await bao.admin.createTransitKey('sealed-key');
      const inner = await OpenBaoTransitKms.create({
        endpoint: bao.addr,
        keyName: 'sealed-key',
        auth: { method: 'token', token: bao.rootToken },
        clock: systemClock,
      });
      const retries: string[] = [];
      const kms = new RetryingKms(inner, {
        clock: systemClock,
        deadlineMs: 1000,
        onRetry: (e) => retries.push(e.code),
      });
      const w = await kms.wrap(crypto.randomBytes(32));
      await bao.admin.call('PUT', 'sys/seal');
      const err = await refusal(kms.unwrap(w));
      expect(err.code).toBe('KMS_SEALED');
      expect(err.retriable).toBe(true);
      expect(err.httpStatus).toBe(503);
      expect(retries.length).toBeGreaterThan(0);
      expect(new Set(retries)).toEqual(new Set(['KMS_SEALED']));
      await kms.close();
    } finally {
      await bao.stop();
    }
  });

  it('errors carry no token, role id or secret id, even when inspected deeply', async () => {
    const key = `test-svc-inspect-${suffix}`;
    await admin.createTransitKey(key);
    const role = await admin.createAppRole(`test-role-inspect-${suffix}`, ['default']);
    const kms = await OpenBaoTransitKms.create({
      endpoint: admin.addr,
      keyName: key,
      auth: { method: 'approle', ...role },
      clock: systemClock,
    });
    const denied = await refusal(kms.wrap(crypto.randomBytes(32)));
    expect(denied.code).toBe('KMS_PERMISSION_DENIED');
    const down = await OpenBaoTransitKms.create({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      keyName: key,
      auth: { method: 'approle', ...role },
      clock: systemClock,
    });
    const unreachable = await refusal(down.wrap(crypto.randomBytes(32)));
    expect(unreachable.code).toBe('KMS_UNAVAILABLE');
    for (const err of [denied, unreachable]) {
      const text = `${inspect(err, { depth: 20, showHidden: true })} ${JSON.stringify(err)} ${String(err.stack)}`;
      for (const secret of [role.roleId, role.secretId, admin.token])
        expect(text).not.toContain(secret);
    }
    await kms.close();
    await down.close();
  });
});
