import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fromBase64 } from '../../../src/keys/bytes.js';
import type { DirectoryDocument } from '../../../src/keys/directory/directory-document.js';
import {
  documentEntries,
  FileDirectorySource,
  parseDirectoryDocument,
  writeDirectoryDocument,
} from '../../../src/keys/directory/directory-document.js';
import type { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import type { DirectoryRecord } from '../../../src/keys/directory/directory-record.js';
import { parseSignedRecord, recordKeyOf } from '../../../src/keys/directory/directory-record.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import type {
  DirectorySnapshot,
  RawDirectorySnapshot,
} from '../../../src/keys/directory/directory-snapshot.js';
import { validateSnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import { generateIdentityFile, loadIdentity } from '../../../src/keys/identity-file.js';
import { KeyError } from '../../../src/keys/key-error.js';
import { computeKid } from '../../../src/keys/kid.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';
import { makeWorld } from '../../support/keys/fixtures.js';
import { signRawDirectory } from '../../support/keys/raw-directory.js';
import { refusedBy } from '../../support/keys/key-errors.js';

const HOUR_MS = 3_600_000;
let w: KeysWorld;
let drafts: DirectoryRecordDraft[];

beforeEach(async () => {
  w = await makeWorld();
  drafts = [
    (await w.service('orders-api', ['orders'], [])).draft,
    (await w.service('billing', [], ['orders'])).draft,
    (await w.service('audit', [], ['orders*', 'payments'])).draft,
  ];
});
afterEach(async () => {
  await w.cleanup();
});

const pinned = (): Uint8Array => w.authority.signingKey().publicKey;
const sign = (changes: DirectoryRecordDraft[], previous?: DirectorySnapshot): DirectoryDocument =>
  signDirectory({
    crypto: w.crypto,
    authority: w.authority,
    clock: w.clock,
    headTtlMs: HOUR_MS,
    changes,
    previous,
  });
const validate = (raw: RawDirectorySnapshot, previous?: DirectorySnapshot): DirectorySnapshot =>
  validateSnapshot(raw, {
    crypto: w.crypto,
    authorityPublicKey: pinned(),
    nowMs: w.clock.nowMs(),
    previous,
  });

/** The document with one record replaced by `mutate(record JSON)` (signature unchanged). */
function tamper(
  doc: DirectoryDocument,
  index: number,
  mutate: (r: Record<string, unknown>) => void,
): DirectoryDocument {
  const records = doc.records.map((r, i) => {
    const copy = JSON.parse(JSON.stringify(r)) as Record<string, unknown>;
    if (i === index) mutate(copy);
    return copy;
  });
  return { ...doc, records } as DirectoryDocument;
}

function recordOf(
  d: DirectoryRecordDraft,
  serial: number,
  patch: Partial<DirectoryRecord> = {},
): DirectoryRecord {
  return {
    ...d,
    serial,
    sendTopics: [...d.sendTopics].sort(),
    receiveTopics: [...d.receiveTopics].sort(),
    ...patch,
  };
}

describe('signed directory: what validates', () => {
  it('a freshly signed directory validates; the namespace is the authority kid', () => {
    const snap = validate(documentEntries(sign(drafts)));
    expect(snap.records).toHaveLength(3);
    expect(snap.head).toMatchObject({ epoch: 1, highestSerial: 3, recordCount: 3 });
    expect(snap.head.authorityKid).toEqual(computeKid(w.crypto, 'ed25519', pinned()));
    expect(snap.bySignKid(drafts[0]!.signKid)?.identity).toBe('orders-api');
    expect(snap.byBoxKid(drafts[1]!.boxKid)?.identity).toBe('billing');
    expect(snap.refused).toEqual([]);
  });

  it('re-signing without changes keeps serials and epoch; a change bumps only that record and the epoch', () => {
    const first = validate(documentEntries(sign(drafts)));
    w.clock.advance(10 * 60_000);
    const same = validate(documentEntries(sign(drafts, first)), first);
    expect(same.head).toMatchObject({ epoch: 1, highestSerial: 3 });
    expect(same.head.expiresAtMs).toBeGreaterThan(first.head.expiresAtMs);
    const changed = validate(
      documentEntries(sign([{ ...drafts[1]!, receiveTopics: ['orders', 'refunds'] }], same)),
      same,
    );
    expect(changed.head).toMatchObject({ epoch: 2, highestSerial: 4 });
    expect(changed.bySignKid(drafts[1]!.signKid)?.serial).toBe(4);
    expect(changed.bySignKid(drafts[0]!.signKid)?.serial).toBe(
      first.bySignKid(drafts[0]!.signKid)?.serial,
    );
  });

  it('the authority refuses duplicate kids and un-revoking', () => {
    const dup = { ...drafts[1]!, identity: 'copycat' };
    expect(() => sign([...drafts, dup])).toThrow(KeyError);
    const first = validate(documentEntries(sign(drafts)));
    const revoked = validate(
      documentEntries(
        sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], first),
      ),
      first,
    );
    expect(() => sign([drafts[0]!], revoked)).toThrow(/revocation is final/);
  });
});

describe('signed directory: what is refused', () => {
  it('a head with a bad signature, from another authority, expired, or from the future', async () => {
    const doc = sign(drafts);
    const sig = Buffer.from(doc.head.signature, 'base64');
    sig[0] = sig[0]! ^ 1;
    expect(
      refusedBy(() =>
        validate(
          documentEntries({ ...doc, head: { ...doc.head, signature: sig.toString('base64') } }),
        ),
      ).code,
    ).toBe('DIRECTORY_BAD_SIGNATURE');
    // A head field changed under a valid signature.
    expect(
      refusedBy(() =>
        validate(
          documentEntries({ ...doc, head: { ...doc.head, expiresAtMs: doc.head.expiresAtMs + 1 } }),
        ),
      ).code,
    ).toBe('DIRECTORY_BAD_SIGNATURE');

    const otherFile = await generateIdentityFile('other-authority', 'authority', {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const other = await loadIdentity(otherFile, { crypto: w.crypto, kms: w.kms });
    const foreign = signDirectory({
      crypto: w.crypto,
      authority: other,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: drafts,
    });
    expect(refusedBy(() => validate(documentEntries(foreign))).code).toBe(
      'DIRECTORY_WRONG_AUTHORITY',
    );
    other.close();

    w.clock.advance(HOUR_MS);
    expect(refusedBy(() => validate(documentEntries(doc))).code).toBe('DIRECTORY_HEAD_EXPIRED');
    w.clock.advance(-HOUR_MS - 10 * 60_000);
    expect(refusedBy(() => validate(documentEntries(doc))).code).toBe('DIRECTORY_HEAD_FROM_FUTURE');
  });

  it('a record with a bad signature or a changed field is refused, and the set no longer matches the head', () => {
    const doc = sign(drafts);
    const forged = tamper(doc, 0, (r) => {
      r.sendTopics = ['orders', 'payments'];
    });
    const err = refusedBy(() => validate(documentEntries(forged)));
    expect(err.code).toBe('DIRECTORY_INCOMPLETE');
    expect(err.refused.map((r) => r.code)).toEqual(['DIRECTORY_BAD_SIGNATURE']);
  });

  it('unknown fields anywhere are refused (strict parsing)', () => {
    const doc = sign(drafts);
    const extraInRecord = tamper(doc, 1, (r) => {
      r.admin = true;
    });
    expect(
      refusedBy(() => validate(documentEntries(extraInRecord))).refused.map((r) => r.code),
    ).toEqual(['DIRECTORY_MALFORMED']);
    expect(
      refusedBy(() =>
        validate(
          documentEntries({ ...doc, head: { ...doc.head, extra: 1 } as DirectoryDocument['head'] }),
        ),
      ).code,
    ).toBe('DIRECTORY_MALFORMED');
    expect(refusedBy(() => parseDirectoryDocument({ ...doc, comment: 'hi' })).code).toBe(
      'DIRECTORY_MALFORMED',
    );
    expect(
      refusedBy(() =>
        parseSignedRecord({ ...doc.records[0], box: { ...doc.records[0]!.box, alg: 'x25519' } }),
      ).code,
    ).toBe('DIRECTORY_MALFORMED');
  });

  it('an old serial re-injected after a revocation does not bring the key back', () => {
    const v1doc = sign(drafts);
    const v1 = validate(documentEntries(v1doc));
    const v2doc = sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], v1);
    const v2 = validate(documentEntries(v2doc), v1);
    expect(v2.bySignKid(drafts[0]!.signKid)?.status).toBe('revoked');

    // The whole old directory replayed: its head is older.
    expect(refusedBy(() => validate(documentEntries(v1doc), v2)).code).toBe('DIRECTORY_ROLLBACK');
    // The old record version re-injected on the topic after the revocation (new head kept).
    const key = recordKeyOf(drafts[0]!);
    const oldRecord = v1doc.records.find((r) => r.identity === 'orders-api')!;
    const injected = { entries: [...documentEntries(v2doc).entries, { key, value: oldRecord }] };
    const again = validate(injected, v2);
    expect(again.bySignKid(drafts[0]!.signKid)?.status).toBe('revoked');
    expect(again.refused).toEqual([{ key, code: 'DIRECTORY_ROLLBACK' }]);
    // Same, on a first load (no previous): the higher serial wins whatever the order.
    const fresh = validate({
      entries: [
        { key, value: oldRecord },
        ...documentEntries(v2doc).entries,
        { key, value: oldRecord },
      ],
    });
    expect(fresh.bySignKid(drafts[0]!.signKid)?.status).toBe('revoked');
    // The revocation withheld (only the old version present): the set does not match the head.
    const withheld = {
      entries: documentEntries(v2doc).entries.map((e) =>
        e.key === key ? { key, value: oldRecord } : e,
      ),
    };
    expect(refusedBy(() => validate(withheld)).code).toBe('DIRECTORY_INCOMPLETE');
  });

  it('a tombstone over a revocation is refused and reported, the revocation stays', () => {
    const v1 = validate(documentEntries(sign(drafts)));
    const v2doc = sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], v1);
    const key = recordKeyOf(drafts[0]!);
    const snap = validate(
      { entries: [...documentEntries(v2doc).entries, { key, value: null }] },
      v1,
    );
    expect(snap.bySignKid(drafts[0]!.signKid)?.status).toBe('revoked');
    expect(snap.refused).toEqual([{ key, code: 'DIRECTORY_TOMBSTONE' }]);
    // A tombstone on the head key does not remove the head either.
    const snap2 = validate(
      { entries: [...documentEntries(v2doc).entries, { key: 'head', value: null }] },
      v1,
    );
    expect(snap2.head.epoch).toBe(2);
    // If compaction really removed the record, the set no longer matches the head.
    const removed = { entries: documentEntries(v2doc).entries.filter((e) => e.key !== key) };
    expect(refusedBy(() => validate(removed, v1)).code).toBe('DIRECTORY_INCOMPLETE');
  });

  it('an authority-signed record cannot un-revoke a key, and same-epoch heads must agree (equivocation)', () => {
    const now = w.clock.nowMs();
    const revokedRec = recordOf(drafts[0]!, 4, { status: 'revoked', retiredAtMs: now });
    const others = [recordOf(drafts[1]!, 2), recordOf(drafts[2]!, 3)];
    const v1 = validate(
      documentEntries(
        signRawDirectory(w.crypto, w.authority, [revokedRec, ...others], {
          epoch: 2,
          issuedAtMs: now,
          expiresAtMs: now + HOUR_MS,
        }),
      ),
    );
    const unrevoked = signRawDirectory(
      w.crypto,
      w.authority,
      [recordOf(drafts[0]!, 5), ...others],
      { epoch: 3, issuedAtMs: now, expiresAtMs: now + HOUR_MS },
    );
    const err = refusedBy(() => validate(documentEntries(unrevoked), v1));
    expect(err.refused).toContainEqual({
      key: recordKeyOf(drafts[0]!),
      code: 'DIRECTORY_ROLLBACK',
    });
    const twin = signRawDirectory(
      w.crypto,
      w.authority,
      [recordOf(drafts[0]!, 4, { status: 'retiring', retiredAtMs: now }), ...others],
      { epoch: 2, issuedAtMs: now, expiresAtMs: now + HOUR_MS },
    );
    expect(refusedBy(() => validate(documentEntries(twin), v1)).code).toBe(
      'DIRECTORY_EQUIVOCATION',
    );
  });

  it('duplicate kids, low-order X25519 keys, invalid Ed25519 keys, kid mismatches, serials above the head', () => {
    const now = w.clock.nowMs();
    const head = { issuedAtMs: now, expiresAtMs: now + HOUR_MS };
    const base = [recordOf(drafts[0]!, 1), recordOf(drafts[1]!, 2)];
    // Same box key under another identity.
    const dup = recordOf(
      {
        ...drafts[1]!,
        identity: 'copycat',
        signKid: drafts[2]!.signKid,
        signPublicKey: drafts[2]!.signPublicKey,
      },
      3,
    );
    expect(
      refusedBy(() =>
        validate(documentEntries(signRawDirectory(w.crypto, w.authority, [...base, dup], head))),
      ).code,
    ).toBe('DIRECTORY_DUPLICATE_KID');

    const lowOrder = new Uint8Array(32);
    lowOrder[0] = 1;
    const bad1 = recordOf(drafts[2]!, 3, {
      boxPublicKey: lowOrder,
      boxKid: computeKid(w.crypto, 'x25519', lowOrder),
    });
    expect(
      refusedBy(() =>
        validate(documentEntries(signRawDirectory(w.crypto, w.authority, [...base, bad1], head))),
      ).refused.map((r) => r.code),
    ).toEqual(['DIRECTORY_LOW_ORDER_KEY']);

    const smallOrderEd = fromBase64(
      Buffer.from(
        '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
        'hex',
      ).toString('base64'),
    );
    const bad2 = recordOf(drafts[2]!, 3, {
      signPublicKey: smallOrderEd,
      signKid: computeKid(w.crypto, 'ed25519', smallOrderEd),
    });
    expect(
      refusedBy(() =>
        validate(documentEntries(signRawDirectory(w.crypto, w.authority, [...base, bad2], head))),
      ).refused.map((r) => r.code),
    ).toEqual(['DIRECTORY_INVALID_ED25519_KEY']);

    const bad3 = recordOf(drafts[2]!, 3, { boxKid: drafts[2]!.signKid.slice().reverse() });
    const doc3 = signRawDirectory(w.crypto, w.authority, [...base, bad3], head);
    expect(refusedBy(() => validate(documentEntries(doc3))).refused.map((r) => r.code)).toEqual([
      'DIRECTORY_KID_MISMATCH',
    ]);

    const doc4 = signRawDirectory(w.crypto, w.authority, [...base, recordOf(drafts[2]!, 9)], {
      ...head,
      highestSerial: 3,
    });
    expect(refusedBy(() => validate(documentEntries(doc4))).refused.map((r) => r.code)).toEqual([
      'DIRECTORY_SERIAL_ABOVE_HEAD',
    ]);
  });
});

describe('KeyDirectory (file source, injected clock)', () => {
  it('refreshes, keeps the old snapshot on a rollback, and refuses new sessions once the head expires', async () => {
    const path = join(w.dir, 'directory.json');
    const v1doc = sign(drafts);
    await writeDirectoryDocument(path, v1doc);
    const epochs: number[] = [];
    const refusals: string[] = [];
    const dir = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: pinned(),
      source: new FileDirectorySource(path),
      clock: w.clock,
      onRefused: (r) => refusals.push(...r.map((x) => x.code)),
    });
    dir.onEpochChange((e) => epochs.push(e));
    expect(dir.epoch).toBe(1);
    expect(dir.namespace).toEqual(computeKid(w.crypto, 'ed25519', pinned()));
    dir.assertFresh();

    w.clock.advance(60_000);
    const v2doc = sign(
      [{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }],
      dir.snapshot(),
    );
    await writeDirectoryDocument(path, v2doc);
    expect(await dir.refresh()).toBe(2);
    expect(epochs).toEqual([2]);
    expect(dir.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');

    await writeDirectoryDocument(path, v1doc);
    await expect(dir.refresh()).rejects.toMatchObject({ code: 'DIRECTORY_ROLLBACK' });
    expect(dir.epoch).toBe(2);
    expect(dir.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');

    w.clock.advance(HOUR_MS);
    expect(dir.isFresh()).toBe(false);
    expect(() => dir.assertFresh()).toThrow(
      expect.objectContaining({ code: 'DIRECTORY_HEAD_EXPIRED' }) as Error,
    );
    expect(refusals).toEqual([]);
  });

  it('refuses to start from a missing file or an unpinned authority', async () => {
    await expect(
      KeyDirectory.open({
        crypto: w.crypto,
        authorityPublicKey: pinned(),
        source: new FileDirectorySource(join(w.dir, 'none.json')),
        clock: w.clock,
      }),
    ).rejects.toMatchObject({ code: 'DIRECTORY_SOURCE_UNAVAILABLE', retriable: true });
    const path = join(w.dir, 'directory.json');
    await writeDirectoryDocument(path, sign(drafts));
    await expect(
      KeyDirectory.open({
        crypto: w.crypto,
        authorityPublicKey: w.crypto.signKeyPair().publicKey,
        source: new FileDirectorySource(path),
        clock: w.clock,
      }),
    ).rejects.toMatchObject({ code: 'DIRECTORY_WRONG_AUTHORITY' });
  });

  it('auto-refresh picks up a new version in the background and reports failures without dropping the snapshot', async () => {
    const path = join(w.dir, 'directory.json');
    await writeDirectoryDocument(path, sign(drafts));
    const dir = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: pinned(),
      source: new FileDirectorySource(path),
      clock: w.clock,
    });
    const errors: string[] = [];
    const epochs: number[] = [];
    dir.onEpochChange((e) => epochs.push(e));
    dir.startAutoRefresh(10, (err) => errors.push((err as DirectoryError).code));
    await writeDirectoryDocument(
      path,
      sign([{ ...drafts[2]!, receiveTopics: ['audit-only'] }], dir.snapshot()),
    );
    await vi.waitFor(() => expect(epochs).toEqual([2]), { timeout: 2000, interval: 10 });
    await writeDirectoryDocument(path, { ...sign(drafts, dir.snapshot()), records: [] });
    await vi.waitFor(() => expect(errors).toContain('DIRECTORY_INCOMPLETE'), {
      timeout: 2000,
      interval: 10,
    });
    expect(dir.epoch).toBe(2);
    dir.stopAutoRefresh();
  });
});
