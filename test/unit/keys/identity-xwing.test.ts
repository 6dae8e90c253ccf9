import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XWING_PUBLIC_KEY_BYTES, XWING_SEED_BYTES } from '../../../src/crypto/provider.js';
import { fromBase64, toHex } from '../../../src/keys/bytes.js';
import {
  destroyRetiredGenerations,
  generateIdentityFile,
  loadIdentity,
  parseIdentityFile,
  publicGenerations,
  readIdentityFile,
  rewrapIdentityFile,
  rotateIdentityFile,
  writeIdentityFile,
  type IdentityFile,
} from '../../../src/keys/identity-file.js';
import { KeyError } from '../../../src/keys/key-error.js';
import { computeKid } from '../../../src/keys/kid.js';
import { CountingKms } from '../../../src/keys/kms/counting-kms.js';
import { summarizeIdentity } from '../../../src/keys/operations.js';
import { keyError, keyErrorAsync } from '../../support/keys/key-errors.js';
import { DAY_MS, makeWorld, type KeysWorld } from '../../support/keys/fixtures.js';

let w: KeysWorld;
beforeEach(async () => {
  w = await makeWorld();
});
afterEach(async () => {
  await w.cleanup();
});

const ctx = (): {
  crypto: KeysWorld['crypto'];
  kms: KeysWorld['kms'];
  clock: KeysWorld['clock'];
} => ({
  crypto: w.crypto,
  kms: w.kms,
  clock: w.clock,
});

describe('identities with an X-Wing key pair (suite 2)', () => {
  it('stores the X-Wing seed wrapped by the KMS, its 1,216-byte public key and kid(xwing, pk)', async () => {
    const file = await generateIdentityFile('orders', 'service', { ...ctx(), xwing: true });
    const g = file.generations[0]!;
    expect(g.kem).toBeDefined();
    const pk = fromBase64(g.kem!.publicKey, XWING_PUBLIC_KEY_BYTES);
    expect(g.kem!.kid).toBe(toHex(computeKid(w.crypto, 'xwing', pk)));
    expect(g.kem!.wrappedSeed!.startsWith('local:v1:')).toBe(true);
    // The kid is bound to the algorithm: the same bytes under another algorithm name differ.
    expect(g.kem!.kid).not.toBe(toHex(computeKid(w.crypto, 'x25519', pk)));
    const path = join(w.dir, 'orders.json');
    await writeIdentityFile(path, file, { overwrite: false });
    const again = await readIdentityFile(path, w.crypto);
    expect(again.generations[0]!.kem).toEqual(g.kem);
    expect(publicGenerations(again)[0]!.kemPublicKey).toEqual(pk);
    expect(summarizeIdentity(again).generations[0]!.kemKid).toBe(g.kem!.kid);
  });

  it('loads the seed (one more unwrap), opens what is encapsulated to the public key, zeros it on close', async () => {
    const kms = new CountingKms(w.kms);
    const file = await generateIdentityFile('orders', 'service', { ...ctx(), kms, xwing: true });
    expect(kms.counts().wrap).toBe(3);
    const id = await loadIdentity(file, { crypto: w.crypto, kms });
    expect(kms.counts().unwrap).toBe(3);
    const kem = id.active().kem!;
    expect(kem.secretKey).toHaveLength(XWING_SEED_BYTES);
    expect(kem.publicKey).toHaveLength(XWING_PUBLIC_KEY_BYTES);
    expect(toHex(kem.kid)).toBe(file.generations[0]!.kem!.kid);
    expect(id.openingKemKeys()).toEqual([kem]);
    expect(id.hasActiveKem()).toBe(true);
    expect(id.describe().generations[0]!.kemKid).toBe(toHex(kem.kid));
    const enc = w.crypto.xwingEncapsulate(kem.publicKey);
    expect(w.crypto.xwingDecapsulate(enc.ciphertext, kem.secretKey)).toEqual(enc.sharedSecret);
    const seed = kem.secretKey;
    id.close();
    expect(seed.every((b) => b === 0)).toBe(true);
  });

  it('still loads files without X-Wing keys (suite 1 only)', async () => {
    const file = await generateIdentityFile('orders', 'service', ctx());
    expect(file.generations[0]!.kem).toBeUndefined();
    expect(JSON.stringify(file)).not.toContain('"kem"');
    const parsed = parseIdentityFile(JSON.parse(JSON.stringify(file)), w.crypto);
    const id = await loadIdentity(parsed, { crypto: w.crypto, kms: w.kms });
    expect(id.active().kem).toBeUndefined();
    expect(id.openingKemKeys()).toEqual([]);
    expect(id.hasActiveKem()).toBe(false);
    expect(summarizeIdentity(parsed).generations[0]!.kemKid).toBeNull();
    id.close();
  });

  it('refuses a wrong X-Wing kid, a missing wrapped seed, a swapped seed (KEY_MISMATCH), zeroing what it unwrapped', async () => {
    const a = await generateIdentityFile('a', 'service', { ...ctx(), xwing: true });
    const b = await generateIdentityFile('b', 'service', { ...ctx(), xwing: true });
    const ga = a.generations[0]!;
    const wrongKid: IdentityFile = {
      ...a,
      generations: [{ ...ga, kem: { ...ga.kem!, kid: b.generations[0]!.kem!.kid } }],
    };
    expect(keyError(() => parseIdentityFile(wrongKid, w.crypto)).code).toBe('KEY_FILE_INVALID');
    const noSeed: IdentityFile = {
      ...a,
      generations: [{ ...ga, kem: { ...ga.kem!, wrappedSeed: null } }],
    };
    expect(keyError(() => parseIdentityFile(noSeed, w.crypto)).code).toBe('KEY_FILE_INVALID');
    const shortKey = { ...a, generations: [{ ...ga, kem: { ...ga.kem!, publicKey: 'AAAA' } }] };
    expect(() => parseIdentityFile(shortKey, w.crypto)).toThrow(KeyError);

    const swapped: IdentityFile = {
      ...a,
      generations: [
        { ...ga, kem: { ...ga.kem!, wrappedSeed: b.generations[0]!.kem!.wrappedSeed } },
      ],
    };
    const unwrapped: Uint8Array[] = [];
    const spy = {
      ...w.kms,
      reference: w.kms.reference,
      unwrap: async (x: string) => {
        const out = await w.kms.unwrap(x);
        unwrapped.push(out);
        return out;
      },
    } as unknown as KeysWorld['kms'];
    expect((await keyErrorAsync(loadIdentity(swapped, { crypto: w.crypto, kms: spy }))).code).toBe(
      'KEY_MISMATCH',
    );
    expect(unwrapped).toHaveLength(3);
    expect(unwrapped.every((s) => s.every((x) => x === 0))).toBe(true);
  });

  it('rotation adds X-Wing keys with --xwing and keeps them after; destroying a generation shreds its X-Wing seed', async () => {
    const v1 = await generateIdentityFile('orders', 'service', ctx());
    w.clock.advance(DAY_MS);
    const v2 = await rotateIdentityFile(v1, { ...ctx(), xwing: true });
    expect(v2.generations.map((g) => [g.generation, g.state, g.kem !== undefined])).toEqual([
      [2, 'active', true],
      [1, 'retiring', false],
    ]);
    w.clock.advance(DAY_MS);
    // A plain rotation never drops suite 2.
    const v3 = await rotateIdentityFile(v2, ctx());
    expect(v3.generations.map((g) => [g.generation, g.kem !== undefined])).toEqual([
      [3, true],
      [2, true],
      [1, false],
    ]);
    const id3 = await loadIdentity(v3, { crypto: w.crypto, kms: w.kms });
    const g2 = id3.generations().find((g) => g.generation === 2)!.kem!;
    const enc = w.crypto.xwingEncapsulate(g2.publicKey);
    expect(id3.openingKemKeys()).toHaveLength(2);
    id3.close();

    w.clock.advance(8 * DAY_MS);
    const { file: v4, destroyed } = destroyRetiredGenerations(v3, {
      clock: w.clock,
      retentionMs: 7 * DAY_MS,
    });
    expect(destroyed.sort()).toEqual([1, 2]);
    const d2 = v4.generations.find((g) => g.generation === 2)!;
    expect(d2.state).toBe('destroyed');
    expect(d2.kem).toMatchObject({ kid: v3.generations[1]!.kem!.kid, wrappedSeed: null });
    const path = join(w.dir, 'orders.json');
    await writeIdentityFile(path, v4, { overwrite: false });
    expect(await readFile(path, 'utf8')).not.toContain(v3.generations[1]!.kem!.wrappedSeed!);
    const id4 = await loadIdentity(await readIdentityFile(path, w.crypto), {
      crypto: w.crypto,
      kms: w.kms,
    });
    // What was encapsulated to the destroyed generation's X-Wing key no longer opens with any loaded seed.
    expect(id4.openingKemKeys()).toHaveLength(1);
    for (const k of id4.openingKemKeys())
      expect(w.crypto.xwingDecapsulate(enc.ciphertext, k.secretKey)).not.toEqual(enc.sharedSecret);
    id4.close();
  });

  it('rewraps the X-Wing seed with the other keys under the new KMS version', async () => {
    let file = await generateIdentityFile('orders', 'service', { ...ctx(), xwing: true });
    await w.kms.rotate();
    file = await rewrapIdentityFile(file, w.kms);
    expect(file.generations[0]!.kem!.wrappedSeed!.startsWith('local:v2:')).toBe(true);
    await w.kms.setMinDecryptionVersion(2);
    const id = await loadIdentity(file, { crypto: w.crypto, kms: w.kms });
    expect(id.active().kem).toBeDefined();
    id.close();
  });
});
