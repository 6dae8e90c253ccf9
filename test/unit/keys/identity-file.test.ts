import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kid as envelopeKid } from '../../../src/envelope/derive.js';
import { fromBase64, toHex } from '../../../src/keys/bytes.js';
import {
  destroyRetiredGenerations,
  generateIdentityFile,
  loadIdentity,
  parseIdentityFile,
  readIdentityFile,
  rewrapIdentityFile,
  rotateIdentityFile,
  writeIdentityFile,
} from '../../../src/keys/identity-file.js';
import { assertIdentityName } from '../../../src/keys/identity.js';
import { computeKid } from '../../../src/keys/kid.js';
import { CountingKms } from '../../../src/keys/kms/counting-kms.js';
import { LocalKms } from '../../../src/keys/kms/local-kms.js';
import { keyError, keyErrorAsync } from '../../support/keys/key-errors.js';
import { DAY_MS, makeWorld } from '../../support/keys/fixtures.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';

let w: KeysWorld;
beforeEach(async () => {
  w = await makeWorld();
});
afterEach(async () => {
  await w.cleanup();
});

describe('identity names and kids', () => {
  it('accepts [a-z0-9][a-z0-9._-]{0,62} only', () => {
    for (const ok of ['a', 'orders', 'svc.payments-eu_1', 'x'.repeat(63)])
      expect(() => assertIdentityName(ok)).not.toThrow();
    for (const bad of ['', 'Orders', '-x', '.x', 'x'.repeat(64), 'a b', 'a/b', 'ä']) {
      expect(keyError(() => assertIdentityName(bad)).code).toBe('KEY_IDENTITY_NAME_INVALID');
    }
  });

  it('computes the same kid as the envelope (H16(L(kid) ‖ u8 |alg| ‖ alg ‖ pk))', () => {
    for (let i = 0; i < 10; i++) {
      const box = w.crypto.boxKeyPair().publicKey;
      const sign = w.crypto.signKeyPair().publicKey;
      expect(computeKid(w.crypto, 'x25519', box)).toEqual(envelopeKid(w.crypto, 'x25519', box));
      expect(computeKid(w.crypto, 'ed25519', sign)).toEqual(envelopeKid(w.crypto, 'ed25519', sign));
    }
    // The two algorithms never share a kid for the same bytes.
    const pk = w.crypto.boxKeyPair().publicKey;
    expect(toHex(computeKid(w.crypto, 'x25519', pk))).not.toBe(
      toHex(computeKid(w.crypto, 'ed25519', pk)),
    );
  });
});

describe('identity files', () => {
  it('stores only wrapped private keys, public keys, kids, KMS reference, created-at — mode 0600', async () => {
    const file = await generateIdentityFile('orders', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const path = join(w.dir, 'orders.json');
    await writeIdentityFile(path, file, { overwrite: false });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    const json = JSON.parse(text) as { generations: { box: object; sign: object }[]; kms: unknown };
    expect(Object.keys(json).sort()).toEqual([
      'createdAtMs',
      'format',
      'generations',
      'kind',
      'kms',
      'name',
    ]);
    expect(Object.keys(json.generations[0]!.box).sort()).toEqual([
      'kid',
      'publicKey',
      'wrappedSecretKey',
    ]);
    expect(Object.keys(json.generations[0]!.sign).sort()).toEqual([
      'kid',
      'publicKey',
      'wrappedSeed',
    ]);
    expect(json.kms).toEqual({ kind: 'local', keyName: 'sealpost-local' });

    // The loaded secret keys appear nowhere in the file, in any encoding.
    const id = await loadIdentity(await readIdentityFile(path, w.crypto), {
      crypto: w.crypto,
      kms: w.kms,
    });
    for (const secret of [
      id.active().box.secretKey,
      id.active().sign.secretKey,
      id.active().sign.secretKey.subarray(0, 32),
    ]) {
      expect(text).not.toContain(Buffer.from(secret).toString('base64'));
      expect(text).not.toContain(Buffer.from(secret).toString('hex'));
    }
    expect(JSON.stringify(id)).not.toContain(
      Buffer.from(id.active().box.secretKey).toString('base64'),
    );
    // Public keys and kids are consistent and usable.
    expect(id.active().box.publicKey).toEqual(fromBase64(file.generations[0]!.box.publicKey));
    const sealed = w.crypto.boxSeal(Uint8Array.of(1, 2, 3), id.active().box.publicKey);
    expect(
      w.crypto.boxSealOpen(sealed, id.active().box.publicKey, id.active().box.secretKey),
    ).toEqual(Uint8Array.of(1, 2, 3));
    id.close();
    await expect(writeIdentityFile(path, file, { overwrite: false })).rejects.toMatchObject({
      code: 'KEY_FILE_EXISTS',
    });
  });

  it('refuses files readable by group/other, unknown fields, kids that do not match keys', async () => {
    const file = await generateIdentityFile('orders', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const path = join(w.dir, 'orders.json');
    await writeIdentityFile(path, file, { overwrite: false });
    await chmod(path, 0o644);
    expect((await keyErrorAsync(readIdentityFile(path, w.crypto))).code).toBe('KEY_FILE_INSECURE');
    await chmod(path, 0o600);

    const extra = { ...file, note: 'x' };
    expect(keyError(() => parseIdentityFile(extra, w.crypto)).code).toBe('KEY_FILE_INVALID');
    const g = file.generations[0]!;
    const wrongKid = { ...file, generations: [{ ...g, box: { ...g.box, kid: g.sign.kid } }] };
    expect(keyError(() => parseIdentityFile(wrongKid, w.crypto)).code).toBe('KEY_FILE_INVALID');
    const twoActive = { ...file, generations: [g, { ...g, generation: 2 }] };
    expect(keyError(() => parseIdentityFile(twoActive, w.crypto)).code).toBe('KEY_FILE_INVALID');
    await writeFile(path, 'not json', { mode: 0o600 });
    expect((await keyErrorAsync(readIdentityFile(path, w.crypto))).code).toBe('KEY_FILE_INVALID');
  });

  it('detects a swapped wrapped key (KEY_MISMATCH) and a different KMS (KEY_KMS_MISMATCH), zeroing what it unwrapped', async () => {
    const a = await generateIdentityFile('a', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const b = await generateIdentityFile('b', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const ga = a.generations[0]!;
    const swapped = {
      ...a,
      generations: [
        { ...ga, box: { ...ga.box, wrappedSecretKey: b.generations[0]!.box.wrappedSecretKey } },
      ],
    };
    expect(
      (await keyErrorAsync(loadIdentity(swapped, { crypto: w.crypto, kms: w.kms }))).code,
    ).toBe('KEY_MISMATCH');
    const other = await LocalKms.open({
      path: join(w.dir, 'other.json'),
      crypto: w.crypto,
      clock: w.clock,
      create: true,
      keyName: 'other',
    });
    expect((await keyErrorAsync(loadIdentity(a, { crypto: w.crypto, kms: other }))).code).toBe(
      'KEY_KMS_MISMATCH',
    );
    await other.close();
  });

  it('unwraps exactly once per key and zeros every secret on close', async () => {
    const kms = new CountingKms(w.kms);
    let file = await generateIdentityFile('orders', 'service', {
      crypto: w.crypto,
      kms,
      clock: w.clock,
    });
    file = await rotateIdentityFile(file, { crypto: w.crypto, kms, clock: w.clock });
    expect(kms.counts().wrap).toBe(4);
    const id = await loadIdentity(file, { crypto: w.crypto, kms });
    expect(kms.counts().unwrap).toBe(4);
    const secrets = id.generations().flatMap((g) => [g.box.secretKey, g.sign.secretKey]);
    expect(secrets.every((s) => s.some((b) => b !== 0))).toBe(true);
    id.close();
    expect(secrets.every((s) => s.every((b) => b === 0))).toBe(true);
    expect(keyError(() => id.active()).code).toBe('KEY_CLOSED');
    expect(kms.counts().unwrap).toBe(4);
  });
});

describe('rotation and destruction (crypto-shredding)', () => {
  it('rotates with overlap, then destroys the retired key after the retention: what was sealed to it cannot be opened', async () => {
    const v1 = await generateIdentityFile('orders', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const idV1 = await loadIdentity(v1, { crypto: w.crypto, kms: w.kms });
    const oldKey = idV1.active().box;
    const sealedToOld = w.crypto.boxSeal(
      new TextEncoder().encode('session seed for the old key'),
      oldKey.publicKey,
    );
    idV1.close();

    w.clock.advance(DAY_MS);
    const v2 = await rotateIdentityFile(v1, { crypto: w.crypto, kms: w.kms, clock: w.clock });
    expect(v2.generations.map((g) => [g.generation, g.state])).toEqual([
      [2, 'active'],
      [1, 'retiring'],
    ]);
    expect(v2.generations[1]!.retiredAtMs).toBe(w.clock.nowMs());
    // Overlap: the retiring key still opens.
    const idV2 = await loadIdentity(v2, { crypto: w.crypto, kms: w.kms });
    const retiring = idV2.boxKeyByKid(oldKey.kid)!;
    expect(
      w.crypto.boxSealOpen(sealedToOld, retiring.publicKey, retiring.secretKey),
    ).not.toBeNull();
    expect(idV2.active().box.kid).not.toEqual(oldKey.kid);
    idV2.close();

    // Not yet past the retention: nothing destroyed.
    w.clock.advance(6 * DAY_MS);
    expect(
      destroyRetiredGenerations(v2, { clock: w.clock, retentionMs: 7 * DAY_MS }).destroyed,
    ).toEqual([]);
    w.clock.advance(DAY_MS);
    const { file: v3, destroyed } = destroyRetiredGenerations(v2, {
      clock: w.clock,
      retentionMs: 7 * DAY_MS,
    });
    expect(destroyed).toEqual([1]);
    const g1 = v3.generations.find((g) => g.generation === 1)!;
    expect(g1).toMatchObject({ state: 'destroyed', destroyedAtMs: w.clock.nowMs() });
    expect(g1.box.wrappedSecretKey).toBeNull();
    expect(g1.sign.wrappedSeed).toBeNull();
    const path = join(w.dir, 'orders.json');
    await writeIdentityFile(path, v3, { overwrite: true });
    const onDisk = await readFile(path, 'utf8');
    expect(onDisk).not.toContain(v2.generations[1]!.box.wrappedSecretKey!);

    // After destruction no loaded key opens the old box.
    const idV3 = await loadIdentity(await readIdentityFile(path, w.crypto), {
      crypto: w.crypto,
      kms: w.kms,
    });
    expect(idV3.boxKeyByKid(oldKey.kid)).toBeUndefined();
    for (const k of idV3.openingKeys())
      expect(w.crypto.boxSealOpen(sealedToOld, k.publicKey, k.secretKey)).toBeNull();
    expect(idV3.generations()).toHaveLength(1);
    idV3.close();
  });

  it('rewraps every live key under the new KMS version; the old version can then be retired', async () => {
    let file = await generateIdentityFile('orders', 'service', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    await w.kms.rotate();
    file = await rewrapIdentityFile(file, w.kms);
    expect(file.generations[0]!.box.wrappedSecretKey!.startsWith('local:v2:')).toBe(true);
    expect(file.generations[0]!.sign.wrappedSeed!.startsWith('local:v2:')).toBe(true);
    await w.kms.setMinDecryptionVersion(2);
    const id = await loadIdentity(file, { crypto: w.crypto, kms: w.kms });
    expect(id.active().generation).toBe(1);
    id.close();
  });
});
