import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CryptoError } from '../../../src/crypto/crypto-error.js';
import { XWING_PUBLIC_KEY_BYTES } from '../../../src/crypto/provider.js';
import { toHex } from '../../../src/keys/bytes.js';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import type { DirectoryDocument } from '../../../src/keys/directory/directory-document.js';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import type { DirectoryRecord } from '../../../src/keys/directory/directory-record.js';
import {
  parseSignedRecord,
  recordToBeSigned,
} from '../../../src/keys/directory/directory-record.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { validateSnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import type { RawDirectorySnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import { usableOpeningKeys } from '../../../src/keys/directory/directory-sender-resolver.js';
import {
  checkXWingPublicKey,
  isValidXWingPublicKey,
  mlKemCoefficientsReduced,
  MLKEM768_EK_BYTES,
} from '../../../src/keys/directory/xwing-public-key-checks.js';
import {
  generateIdentityFile,
  loadIdentity,
  publicGenerations,
  type IdentityFile,
} from '../../../src/keys/identity-file.js';
import { KeyError } from '../../../src/keys/key-error.js';
import { computeKid } from '../../../src/keys/kid.js';
import { DirectoryPolicy } from '../../../src/keys/policy.js';
import { draftFor, makeWorld, type KeysWorld } from '../../support/keys/fixtures.js';
import { signRawDirectory } from '../../support/keys/raw-directory.js';
import { refusedBy } from '../../support/keys/key-errors.js';

const HOUR_MS = 3_600_000;
let w: KeysWorld;
beforeEach(async () => {
  w = await makeWorld();
});
afterEach(async () => {
  await w.cleanup();
});

/** Sets the 12-bit coefficient `index` (0..767) of the ML-KEM `t` part of `pk` to `value`. */
function setCoefficient(pk: Uint8Array, index: number, value: number): void {
  const o = Math.floor(index / 2) * 3;
  if (index % 2 === 0) {
    pk[o] = value & 0xff;
    pk[o + 1] = (pk[o + 1]! & 0xf0) | (value >> 8);
  } else {
    pk[o + 1] = (pk[o + 1]! & 0x0f) | ((value & 0x0f) << 4);
    pk[o + 2] = value >> 4;
  }
}
function getCoefficient(pk: Uint8Array, index: number): number {
  const o = Math.floor(index / 2) * 3;
  return index % 2 === 0
    ? pk[o]! | ((pk[o + 1]! & 0x0f) << 8)
    : (pk[o + 1]! >> 4) | (pk[o + 2]! << 4);
}

const freshKey = (): Uint8Array =>
  w.crypto.xwingKeyPairFromSeed(w.crypto.randomBytes(32)).publicKey;

describe('X-Wing public key checks', () => {
  it('accepts real keys (both coefficient positions read back as generated)', () => {
    for (let i = 0; i < 20; i++) {
      const pk = freshKey();
      expect(checkXWingPublicKey(w.crypto, pk)).toBe('ok');
      // The decoder reads the coefficients the encoder wrote.
      const c0 = getCoefficient(pk, 0);
      const copy = Uint8Array.from(pk);
      setCoefficient(copy, 0, c0);
      expect(copy).toEqual(pk);
    }
  });

  it('refuses a wrong length', () => {
    const pk = freshKey();
    expect(checkXWingPublicKey(w.crypto, pk.subarray(0, XWING_PUBLIC_KEY_BYTES - 1))).toBe(
      'bad-length',
    );
    expect(checkXWingPublicKey(w.crypto, new Uint8Array(XWING_PUBLIC_KEY_BYTES + 1))).toBe(
      'bad-length',
    );
    expect(checkXWingPublicKey(w.crypto, new Uint8Array(0))).toBe('bad-length');
  });

  it('refuses an unreduced ML-KEM coefficient (≥ 3329) anywhere in t, even coefficient or odd; 3328 passes', () => {
    for (const index of [0, 1, 2, 255, 256, 511, 766, 767]) {
      for (const value of [3329, 3330, 4095]) {
        const pk = freshKey();
        setCoefficient(pk, index, value);
        expect(getCoefficient(pk, index)).toBe(value);
        expect(mlKemCoefficientsReduced(pk.subarray(0, MLKEM768_EK_BYTES))).toBe(false);
        expect(checkXWingPublicKey(w.crypto, pk)).toBe('mlkem-modulus');
        // The provider refuses to encapsulate to it as well.
        expect(() => w.crypto.xwingEncapsulate(pk)).toThrow(CryptoError);
      }
      const edge = freshKey();
      setCoefficient(edge, index, 3328);
      expect(checkXWingPublicKey(w.crypto, edge)).toBe('ok');
    }
  });

  it('does not judge the 32-byte ML-KEM seed ρ (any bytes are a valid encoding)', () => {
    const pk = freshKey();
    pk.fill(0xff, 1152, MLKEM768_EK_BYTES);
    expect(checkXWingPublicKey(w.crypto, pk)).toBe('ok');
  });

  it('refuses an all-zero, low-order or non-canonical X25519 part', () => {
    const lowOrder = [
      '0000000000000000000000000000000000000000000000000000000000000000',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
    ];
    for (const hex of lowOrder) {
      const pk = freshKey();
      pk.set(Buffer.from(hex, 'hex'), MLKEM768_EK_BYTES);
      expect(checkXWingPublicKey(w.crypto, pk)).toBe('x25519-invalid');
      expect(isValidXWingPublicKey(w.crypto, pk)).toBe(false);
    }
    // An all-zero key fails on its X25519 part (zero coefficients are reduced).
    expect(checkXWingPublicKey(w.crypto, new Uint8Array(XWING_PUBLIC_KEY_BYTES))).toBe(
      'x25519-invalid',
    );
  });
});

/** A service identity with an X-Wing key and its directory draft (active generation). */
async function kemService(
  name: string,
  send: string[],
  receive: string[],
): Promise<{ file: IdentityFile; draft: DirectoryRecordDraft }> {
  const file = await generateIdentityFile(name, 'service', {
    crypto: w.crypto,
    kms: w.kms,
    clock: w.clock,
    xwing: true,
  });
  const g = publicGenerations(file)[0]!;
  return {
    file,
    draft: {
      ...draftFor(file, send, receive, w.clock.nowMs()),
      kemKid: g.kemKid!,
      kemPublicKey: g.kemPublicKey!,
    },
  };
}

const pinned = (): Uint8Array => w.authority.signingKey().publicKey;
const sign = (changes: DirectoryRecordDraft[]): DirectoryDocument =>
  signDirectory({
    crypto: w.crypto,
    authority: w.authority,
    clock: w.clock,
    headTtlMs: HOUR_MS,
    changes,
  });
const validate = (raw: RawDirectorySnapshot) =>
  validateSnapshot(raw, { crypto: w.crypto, authorityPublicKey: pinned(), nowMs: w.clock.nowMs() });
const recordOf = (
  d: DirectoryRecordDraft,
  serial: number,
  patch: Partial<DirectoryRecord> = {},
): DirectoryRecord => ({ ...d, serial, ...patch });
const head = (): { issuedAtMs: number; expiresAtMs: number } => ({
  issuedAtMs: w.clock.nowMs(),
  expiresAtMs: w.clock.nowMs() + HOUR_MS,
});

describe('the directory publishes and validates X-Wing keys', () => {
  it('signs them into the record, publishes them with their kid, and resolves both kids to the identity', async () => {
    const orders = await kemService('orders', [], ['orders']);
    const legacy = await w.service('legacy', [], ['orders']);
    const doc = sign([orders.draft, legacy.draft]);
    const json = doc.records.find((r) => r.identity === 'orders')!;
    expect(json.kem?.kid).toBe(toHex(orders.draft.kemKid!));
    expect(doc.records.find((r) => r.identity === 'legacy')!.kem).toBeUndefined();
    const snap = validate(documentEntries(doc));
    expect(snap.refused).toEqual([]);
    expect(snap.byKemKid(orders.draft.kemKid!)?.identity).toBe('orders');
    expect(snap.byKemKid(orders.draft.boxKid)).toBeUndefined();

    const dir = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: pinned(),
      clock: w.clock,
      source: { readAll: () => Promise.resolve(documentEntries(doc)) },
    });
    const byKem = dir.recipientKey(orders.draft.kemKid!)!;
    expect(byKem).toMatchObject({ identity: 'orders', status: 'active' });
    expect(byKem.publicKey).toEqual(orders.draft.kemPublicKey);
    const byBox = dir.recipientKey(orders.draft.boxKid)!;
    expect(byBox.publicKey).toEqual(orders.draft.boxPublicKey);
    expect(byBox.kem?.publicKey).toEqual(orders.draft.kemPublicKey);
    const allowed = new DirectoryPolicy(dir, { clock: w.clock }).allowedRecipients('orders');
    expect(new Map(allowed.map((r) => [r.identity, r.kem !== undefined]))).toEqual(
      new Map([
        ['orders', true],
        ['legacy', false],
      ]),
    );

    // The loaded identity's X-Wing key is usable for opening (suite 2), beside its box key.
    const id = await loadIdentity(orders.file, { crypto: w.crypto, kms: w.kms });
    const usable = usableOpeningKeys(id, dir);
    expect(usable.map((k) => [toHex(k.kid), k.suite])).toEqual([
      [toHex(orders.draft.boxKid), 1],
      [toHex(orders.draft.kemKid!), 2],
    ]);
    id.close();
    await dir.close();
  });

  it('a revoked record no longer opens: neither its box key nor its X-Wing key is handed to the opener', async () => {
    const orders = await kemService('orders', [], ['orders']);
    const first = sign([orders.draft]);
    let doc = first;
    const source = { readAll: () => Promise.resolve(documentEntries(doc)) };
    const dir = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: pinned(),
      clock: w.clock,
      source,
    });
    const id = await loadIdentity(orders.file, { crypto: w.crypto, kms: w.kms });
    expect(usableOpeningKeys(id, dir)).toHaveLength(2);
    doc = signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      previous: dir.snapshot(),
      changes: [{ ...orders.draft, status: 'revoked', retiredAtMs: w.clock.nowMs() }],
    });
    await dir.refresh();
    expect(dir.recipientKey(orders.draft.kemKid!)?.status).toBe('revoked');
    expect(usableOpeningKeys(id, dir)).toEqual([]);
    id.close();
    await dir.close();
  });

  it('records without an X-Wing key sign exactly the bytes they did before', async () => {
    const orders = await kemService('orders', [], ['orders']);
    const { kemKid: _k, kemPublicKey: _p, ...plain } = orders.draft;
    const withKem = recordToBeSigned(w.authority.signingKey().kid, recordOf(orders.draft, 1));
    const without = recordToBeSigned(w.authority.signingKey().kid, recordOf(plain, 1));
    // The extension is appended: tag 3, kid, key.
    expect(withKem.length).toBe(without.length + 1 + 16 + XWING_PUBLIC_KEY_BYTES);
    expect(withKem.subarray(0, without.length)).toEqual(without);
    expect(withKem[without.length]).toBe(3);
  });

  it('refuses a record whose X-Wing kid does not match its key, or whose key fails the checks', async () => {
    const a = await kemService('a', [], ['orders']);
    const b = await kemService('b', [], ['orders']);
    const good = recordOf(a.draft, 1);
    // The kid of another key.
    const wrongKid = recordOf(b.draft, 2, { kemKid: a.draft.kemKid!, kemPublicKey: freshKey() });
    expect(
      refusedBy(() =>
        validate(
          documentEntries(signRawDirectory(w.crypto, w.authority, [good, wrongKid], head())),
        ),
      ).refused.map((r) => r.code),
    ).toEqual(['DIRECTORY_KID_MISMATCH']);

    for (const mutate of [
      (pk: Uint8Array) => setCoefficient(pk, 17, 3329),
      (pk: Uint8Array) => pk.fill(0, MLKEM768_EK_BYTES),
      (pk: Uint8Array) =>
        pk.set(
          Buffer.from('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', 'hex'),
          MLKEM768_EK_BYTES,
        ),
    ]) {
      const bad = Uint8Array.from(b.draft.kemPublicKey!);
      mutate(bad);
      const record = recordOf(b.draft, 2, {
        kemPublicKey: bad,
        kemKid: computeKid(w.crypto, 'xwing', bad),
      });
      expect(
        refusedBy(() =>
          validate(
            documentEntries(signRawDirectory(w.crypto, w.authority, [good, record], head())),
          ),
        ).refused.map((r) => r.code),
      ).toEqual(['DIRECTORY_INVALID_XWING_KEY']);
      // The authority's signer refuses to sign it in the first place.
      const err = (() => {
        try {
          sign([
            a.draft,
            { ...b.draft, kemPublicKey: bad, kemKid: computeKid(w.crypto, 'xwing', bad) },
          ]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(KeyError);
      expect((err as KeyError).code).toBe('KEY_STATE_INVALID');
    }
  });

  it('refuses an X-Wing kid that another record uses (any kid kind), and a tampered key (signature)', async () => {
    const a = await kemService('a', [], ['orders']);
    const b = await kemService('b', [], ['orders']);
    const dup = recordOf(b.draft, 2, {
      kemKid: a.draft.kemKid!,
      kemPublicKey: a.draft.kemPublicKey!,
    });
    expect(
      refusedBy(() =>
        validate(
          documentEntries(
            signRawDirectory(w.crypto, w.authority, [recordOf(a.draft, 1), dup], head()),
          ),
        ),
      ).code,
    ).toBe('DIRECTORY_DUPLICATE_KID');
    expect(() =>
      sign([a.draft, { ...b.draft, kemKid: a.draft.kemKid!, kemPublicKey: a.draft.kemPublicKey! }]),
    ).toThrow(KeyError);

    const doc = sign([a.draft, b.draft]);
    const tampered = {
      ...doc,
      records: doc.records.map((r) =>
        r.identity === 'a'
          ? {
              ...r,
              kem: {
                ...r.kem!,
                publicKey: doc.records[1]!.kem!.publicKey,
                kid: doc.records[1]!.kem!.kid,
              },
            }
          : r,
      ),
    };
    expect(
      refusedBy(() => validate(documentEntries(tampered))).refused.map((r) => r.code),
    ).toContain('DIRECTORY_BAD_SIGNATURE');
  });

  it('parses the wire form strictly: a short key, bad base64 or a missing kid is malformed', async () => {
    const a = await kemService('a', [], ['orders']);
    const json = sign([a.draft]).records[0]!;
    expect(parseSignedRecord(json).record.kemPublicKey).toEqual(a.draft.kemPublicKey);
    const cases = [
      { ...json, kem: { ...json.kem!, publicKey: json.kem!.publicKey.slice(0, -8) } },
      { ...json, kem: { ...json.kem!, publicKey: `${json.kem!.publicKey.slice(0, -4)}!!!!` } },
      { ...json, kem: { publicKey: json.kem!.publicKey } },
      { ...json, kem: { ...json.kem!, extra: 1 } },
    ];
    for (const c of cases) {
      expect(() => parseSignedRecord(c)).toThrow(DirectoryError);
      try {
        parseSignedRecord(c);
      } catch (err) {
        expect((err as DirectoryError).code).toBe('DIRECTORY_MALFORMED');
      }
    }
  });
});
