/**
 * The key lifecycle end to end on the real OpenBao of the stack (Transit wraps every private key) with
 * the real envelope: create, publish, seal/open, rotate with overlap, KMS rotation + rewrap + raised
 * min_decryption_version, revocation, and destruction of the retired key (crypto-shredding).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { createSealingSession, EnvelopeError, EnvelopeOpener } from '../../src/envelope/index.js';
import type { OpenResult } from '../../src/envelope/index.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import {
  DirectorySenderResolver,
  usableOpeningKeys,
} from '../../src/keys/directory/directory-sender-resolver.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import { CountingKms } from '../../src/keys/kms/counting-kms.js';
import { KmsError } from '../../src/keys/kms/kms-error.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import {
  authorityPublicKey,
  createIdentity,
  destroyRetired,
  initAuthority,
  listIdentities,
  openIdentity,
  publishDirectory,
  revokeIdentity,
  rewrapIdentity,
  rotateIdentity,
  showDirectory,
  verifyDirectory,
} from '../../src/keys/operations.js';
import type { DirectoryGrant, DirectoryLocation } from '../../src/keys/operations.js';
import { DirectoryPolicy } from '../../src/keys/policy.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { testCrypto } from '../support/keys/test-crypto.js';

const DAY_MS = 86_400_000;
const TOPIC = 'orders';
const SCHEMA_ID = 7;

let crypto: CryptoProvider;
let dir: string;
let kms: CountingKms;
let inner: OpenBaoTransitKms;
const clock = new ManualClock(1_800_000_000_000);

beforeAll(async () => {
  crypto = await testCrypto();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-lifecycle-'));
  const e = getEndpoints();
  const admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
  await admin.ensureTransit();
  const keyName = `test-lifecycle-${randomBytes(4).toString('hex')}`;
  await admin.createTransitKey(keyName);
  inner = await OpenBaoTransitKms.create({
    endpoint: e.vaultAddr,
    keyName,
    auth: { method: 'token', token: e.vaultToken },
    clock,
  });
  kms = new CountingKms(inner);
});
afterAll(async () => {
  await kms.close();
  await rm(dir, { recursive: true, force: true });
});

const ctx = { topic: TOPIC, partition: 0, key: null };

function outcome(fn: () => OpenResult): string {
  try {
    const r = fn();
    return r.kind === 'delivered' ? `delivered:${r.message.senderIdentity}` : r.kind;
  } catch (err) {
    if (err instanceof EnvelopeError) return `${err.coarse}:${err.code}`;
    throw err;
  }
}

describe('key lifecycle on real OpenBao Transit', () => {
  it('create → publish → seal/open → rotate → KMS rewrap → revoke → destroy', async () => {
    const paths = {
      authority: join(dir, 'authority.json'),
      producer: join(dir, 'producer.json'),
      consumer: join(dir, 'consumer.json'),
      directory: join(dir, 'directory.json'),
    };
    const location: DirectoryLocation = { kind: 'file', path: paths.directory };
    const ops = { crypto, clock, kms };

    // --- create and publish ---
    const auth = await initAuthority({ path: paths.authority, ...ops });
    await createIdentity({ path: paths.producer, name: 'producer', ...ops });
    await createIdentity({ path: paths.consumer, name: 'consumer', ...ops });
    await expect(
      createIdentity({ path: paths.consumer, name: 'consumer', ...ops }),
    ).rejects.toMatchObject({ code: 'KEY_FILE_EXISTS' });
    expect(kms.counts().wrap).toBe(6);
    const grants: DirectoryGrant[] = [
      { identityFile: paths.producer, sendTopics: [TOPIC], receiveTopics: [] },
      { identityFile: paths.consumer, sendTopics: [], receiveTopics: [TOPIC] },
    ];
    const published = await publishDirectory({
      authorityFile: paths.authority,
      kms,
      crypto,
      clock,
      location,
      grants,
      headTtlMs: DAY_MS,
    });
    expect(published).toMatchObject({ epoch: 1, highestSerial: 2, authorityKid: auth.kid });
    expect((await listIdentities({ dir, crypto })).map((x) => x.summary.name)).toEqual([
      'authority',
      'consumer',
      'producer',
    ]);

    // --- a service starts: pinned authority key, its identity (one unwrap per key), the directory ---
    const pinned = (await authorityPublicKey(paths.authority, crypto)).publicKey;
    const before = kms.counts().unwrap;
    const producer = await openIdentity({ path: paths.producer, kms, crypto });
    const consumer = await openIdentity({ path: paths.consumer, kms, crypto });
    expect(kms.counts().unwrap - before).toBe(4);
    const directory = await KeyDirectory.open({
      crypto,
      authorityPublicKey: pinned,
      source: new FileDirectorySource(paths.directory),
      clock,
    });
    const policy = new DirectoryPolicy(directory, { clock });
    const makeOpener = (id: LoadedIdentity): EnvelopeOpener =>
      new EnvelopeOpener({
        provider: crypto,
        clock,
        resolver: new DirectorySenderResolver(directory),
        policy: { skewMs: 60_000, horizonMs: 30 * DAY_MS, maxSessionLifetimeMs: DAY_MS },
        limits: {
          envelopeSchemaId: SCHEMA_ID,
          namespace: directory.namespace,
          maxCiphertextBytes: 1 << 20,
        },
        recipientKeys: usableOpeningKeys(id, directory),
      });
    const seal = (from: LoadedIdentity, text: string): Uint8Array => {
      directory.assertFresh();
      policy.assertMaySend(from.name, TOPIC);
      const session = createSealingSession({
        provider: crypto,
        clock,
        envelopeSchemaId: SCHEMA_ID,
        namespace: directory.namespace,
        topic: TOPIC,
        senderSigningSecretKey: from.signingKey().secretKey,
        recipients: policy.allowedRecipients(TOPIC),
        streamId: crypto.randomBytes(16),
        lifetimeMs: 60_000,
        maxMessages: 10,
      });
      const sealed = session.seal({
        partition: 0,
        seq: 0,
        key: null,
        schemaFp: new Uint8Array(16),
        contentType: 'text/plain',
        payload: new TextEncoder().encode(text),
      });
      session.close();
      return sealed.value;
    };
    const kmsCallsBeforeMessages = kms.total();
    const m1 = seal(producer, 'hello');
    expect(outcome(() => makeOpener(consumer).open(m1, ctx))).toBe('delivered:producer');
    // The producer is not a recipient; the KMS is not on the message path.
    expect(outcome(() => makeOpener(producer).open(m1, ctx))).toBe('not-addressed');
    expect(kms.total()).toBe(kmsCallsBeforeMessages);

    // --- rotation with overlap: the consumer gets a new key; the old one still opens m1 ---
    clock.advance(DAY_MS);
    await rotateIdentity({ path: paths.consumer, ...ops });
    await publishDirectory({
      authorityFile: paths.authority,
      kms,
      crypto,
      clock,
      location,
      grants,
      headTtlMs: DAY_MS,
    });
    await directory.refresh();
    consumer.close();
    const consumer2 = await openIdentity({ path: paths.consumer, kms, crypto });
    const newKid = consumer2.active().box.kid;
    expect(policy.allowedRecipients(TOPIC).map((r) => r.kid)).toEqual([newKid]);
    const m2 = seal(producer, 'after rotation');
    expect(outcome(() => makeOpener(consumer2).open(m1, ctx))).toBe('delivered:producer');
    expect(outcome(() => makeOpener(consumer2).open(m2, ctx))).toBe('delivered:producer');

    // --- KMS key rotation + rewrap of every file + raised min_decryption_version ---
    await copyFile(paths.consumer, join(dir, 'consumer.backup'));
    const rewrapped = await rewrapIdentity({
      path: paths.consumer,
      kms,
      crypto,
      rotateKmsKeyFirst: true,
    });
    expect(rewrapped.kms).toMatchObject({ latestVersion: 2, minDecryptionVersion: 1 });
    await rewrapIdentity({ path: paths.producer, kms, crypto });
    const raised = await rewrapIdentity({
      path: paths.authority,
      kms,
      crypto,
      raiseMinDecryptionVersion: true,
    });
    expect(raised.kms).toMatchObject({ latestVersion: 2, minDecryptionVersion: 2 });
    expect(raised.summary.generations.every((g) => g.wrappedWithVersion === 2)).toBe(true);
    // The pre-rewrap copy (v1 wraps) is now refused by the KMS, typed.
    const old = await openIdentity({ path: join(dir, 'consumer.backup'), kms, crypto }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(old).toBeInstanceOf(KmsError);
    expect((old as KmsError).code).toBe('KMS_VERSION_BELOW_MINIMUM');
    // The rewrapped files load.
    const consumer3 = await openIdentity({ path: paths.consumer, kms, crypto });
    expect(consumer3.active().box.kid).toEqual(newKid);

    // --- revocation: the producer's key is refused from the next refresh on ---
    await revokeIdentity({
      authorityFile: paths.authority,
      kms,
      crypto,
      clock,
      location,
      identity: 'producer',
      headTtlMs: DAY_MS,
    });
    const m3 = seal(producer, 'sealed before the consumer refreshed');
    await directory.refresh();
    expect(outcome(() => makeOpener(consumer3).open(m3, ctx))).toBe('HEADER:SENDER_REVOKED');
    expect(() => policy.assertMaySend('producer', TOPIC)).toThrow(
      expect.objectContaining({ code: 'POLICY_SENDER_REVOKED' }) as Error,
    );
    // Publishing again does not bring the producer back.
    await publishDirectory({
      authorityFile: paths.authority,
      kms,
      crypto,
      clock,
      location,
      grants,
      headTtlMs: DAY_MS,
    });
    await directory.refresh();
    expect(directory.senderKey(producer.signingKey().kid)?.status).toBe('revoked');

    // --- destruction of the retired consumer key after the retention ---
    expect(
      (await destroyRetired({ path: paths.consumer, retentionMs: 7 * DAY_MS, crypto, clock }))
        .destroyed,
    ).toEqual([]);
    clock.advance(7 * DAY_MS);
    const backupBeforeDestroy = join(dir, 'consumer.before-destroy');
    await copyFile(paths.consumer, backupBeforeDestroy);
    const { destroyed } = await destroyRetired({
      path: paths.consumer,
      retentionMs: 7 * DAY_MS,
      crypto,
      clock,
    });
    expect(destroyed).toEqual([1]);
    await publishDirectory({
      authorityFile: paths.authority,
      kms,
      crypto,
      clock,
      location,
      grants,
      headTtlMs: DAY_MS,
    });
    await directory.refresh();
    consumer2.close();
    consumer3.close();
    const consumer4 = await openIdentity({ path: paths.consumer, kms, crypto });
    expect(consumer4.generations()).toHaveLength(1);
    // m1 was sealed to the destroyed key only: nothing can open it any more.
    expect(outcome(() => makeOpener(consumer4).open(m1, ctx))).toBe('not-addressed');
    for (const k of consumer4.openingKeys())
      expect(k.kid).not.toEqual(published.records.find((r) => r.identity === 'consumer')!.boxKid);

    // Shredding copies too: rotate the KMS key, rewrap every live file, raise the minimum. A backup
    // taken before the destruction (whose wraps are now below the minimum) no longer unwraps.
    await rewrapIdentity({ path: paths.consumer, kms, crypto, rotateKmsKeyFirst: true });
    await rewrapIdentity({ path: paths.producer, kms, crypto });
    expect(
      (
        await rewrapIdentity({
          path: paths.authority,
          kms,
          crypto,
          raiseMinDecryptionVersion: true,
        })
      ).kms,
    ).toMatchObject({ latestVersion: 3, minDecryptionVersion: 3 });
    const shredded = await openIdentity({ path: backupBeforeDestroy, kms, crypto }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((shredded as KmsError).code).toBe('KMS_VERSION_BELOW_MINIMUM');
    const consumer5 = await openIdentity({ path: paths.consumer, kms, crypto });
    expect(consumer5.generations()).toHaveLength(1);
    consumer5.close();

    const shown = await showDirectory({ location, authorityPublicKey: pinned, crypto, clock });
    expect(shown.records.map((r) => [r.identity, r.status]).sort()).toEqual([
      ['consumer', 'active'],
      ['consumer', 'revoked'],
      ['producer', 'revoked'],
    ]);
    expect(
      await verifyDirectory({ location, authorityPublicKey: pinned, crypto, clock }),
    ).toMatchObject({ ok: true });
    expect(
      await verifyDirectory({
        location,
        authorityPublicKey: crypto.signKeyPair().publicKey,
        crypto,
        clock,
      }),
    ).toMatchObject({ ok: false, code: 'DIRECTORY_WRONG_AUTHORITY' });
    clock.advance(2 * DAY_MS);
    expect(
      await verifyDirectory({ location, authorityPublicKey: pinned, crypto, clock }),
    ).toMatchObject({ ok: false, code: 'DIRECTORY_HEAD_EXPIRED' });
    for (const id of [producer, consumer4]) id.close();
  });
});
