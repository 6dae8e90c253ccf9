/**
 * The audit log as a transparency log (docs/AUDIT.md): the recorder publishes, beside each
 * checkpoint, a C2SP checkpoint note of the same size whose root is the RFC 6962 head of the stored
 * events; the published notes verify pairwise; a note that a restart publishes again is identical;
 * a forked, forged or outrun note is refused with its own problem.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider, KeyPair } from '../../../src/crypto/provider.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { AuditRecorder } from '../../../src/audit/audit-recorder.js';
import {
  AuditTlog,
  auditLeafHashes,
  defaultAuditOrigin,
  verifyTlogCheckpoints,
} from '../../../src/audit/audit-tlog.js';
import { leafHash, leafHashArray, treeRoot } from '../../../src/audit/merkle-tree.js';
import { ed25519NoteSigner, ed25519NoteVerifier } from '../../../src/audit/signed-note.js';
import { openCheckpoint, signCheckpoint } from '../../../src/audit/tlog-checkpoint.js';
import { canonicalEventBytes, type MetadataEvent } from '../../../src/events/metadata-event.js';
import { ManualClock } from '../../../src/runtime/clock.js';

let crypto: CryptoProvider;
let keys: KeyPair;
const origin = defaultAuditOrigin('sealpost.metadata');

beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
  keys = crypto.signKeyPair();
});

const ev = (n: number): MetadataEvent => ({
  eventId: n.toString(16).padStart(32, '0'),
  type: 'sealed',
  timeMs: n,
  actor: 'orders',
});

function setup(store = new SqliteAuditStore(':memory:', crypto), fails = { value: false }) {
  const published: { count: number; note: string | undefined }[] = [];
  const recorder = new AuditRecorder({
    store,
    crypto,
    clock: new ManualClock(1_000_000),
    signer: { kid: new Uint8Array(16).fill(3), secretKey: keys.secretKey },
    checkpointEveryEntries: 100,
    tlog: new AuditTlog({
      crypto,
      entries: (from) => store.entries(from),
      origin,
      signer: ed25519NoteSigner(crypto, origin, keys.secretKey),
    }),
    publisher: {
      publish: (c, note) => {
        if (fails.value) return Promise.reject(new Error('broker down'));
        published.push({ count: c.count, note });
        return Promise.resolve();
      },
    },
  });
  return { store, recorder, published };
}

describe('AuditRecorder with C2SP checkpoints', () => {
  it('publishes a note of the same size with the RFC 6962 head of the stored events', async () => {
    const { store, recorder, published } = setup();
    await recorder.record(Array.from({ length: 250 }, (_, i) => ev(i)));
    await recorder.checkpointNow();
    expect(published.map((p) => p.count)).toEqual([100, 200, 250]);
    const verifier = ed25519NoteVerifier(crypto, origin, keys.publicKey);
    // Leaves computed here from the events themselves, not through the store's reader.
    const leaves = leafHashArray(
      Array.from({ length: 250 }, (_, i) => leafHash(crypto, canonicalEventBytes(ev(i)))),
    );
    for (const p of published) {
      const opened = openCheckpoint(p.note!, [verifier], origin);
      expect(opened.ok).toBe(true);
      if (!opened.ok) continue;
      expect(opened.checkpoint.size).toBe(p.count);
      expect(Buffer.from(opened.checkpoint.rootHash)).toEqual(
        Buffer.from(treeRoot(crypto, leaves, p.count)),
      );
    }
    const report = verifyTlogCheckpoints(
      crypto,
      await auditLeafHashes(crypto, store.entries()),
      published.map((p) => p.note!),
      origin,
      keys.publicKey,
    );
    expect(report).toEqual({ ok: true, checkpoints: 3, consistentPairs: 2 });
  });

  it('a restart publishes the same note again for the newest stored checkpoint', async () => {
    const fails = { value: true };
    const store = new SqliteAuditStore(':memory:', crypto);
    const first = setup(store, fails);
    await expect(
      first.recorder.record(Array.from({ length: 100 }, (_, i) => ev(i))),
    ).rejects.toThrow('broker down');
    fails.value = false;
    const ok = setup(store);
    await ok.recorder.record([ev(100)]);
    expect(ok.published.map((p) => p.count)).toEqual([100]);
    const fresh = setup(new SqliteAuditStore(':memory:', crypto));
    await fresh.recorder.record(Array.from({ length: 100 }, (_, i) => ev(i)));
    expect(ok.published[0]!.note).toBe(fresh.published[0]!.note);
  });
});

describe('verifyTlogCheckpoints refuses', () => {
  async function log(n: number) {
    const { store, recorder, published } = setup();
    await recorder.record(Array.from({ length: n }, (_, i) => ev(i)));
    return {
      leaves: await auditLeafHashes(crypto, store.entries()),
      notes: published.map((p) => p.note!),
    };
  }
  const signed = (size: number, rootHash: Uint8Array, key = keys.secretKey, name = origin) =>
    signCheckpoint({ origin: name, size, rootHash, extensions: [] }, [
      ed25519NoteSigner(crypto, name, key),
    ]);

  it('a fork signed by the audit key (a note at a size whose head is not the log’s)', async () => {
    const { leaves, notes } = await log(300);
    const forked = leaves.map((h, i) => (i === 150 ? leafHash(crypto, new Uint8Array([1])) : h));
    const fork = signed(250, treeRoot(crypto, leafHashArray(forked), 250));
    const r = verifyTlogCheckpoints(crypto, leaves, [...notes, fork], origin, keys.publicKey);
    expect(r).toMatchObject({ ok: false, problem: 'TLOG_CHECKPOINT_INCONSISTENT' });
    // As the newest note, the same fork does not match the stored head.
    const newest = signed(300, treeRoot(crypto, leafHashArray(forked), 300));
    expect(verifyTlogCheckpoints(crypto, leaves, [newest], origin, keys.publicKey)).toMatchObject({
      ok: false,
      problem: 'TLOG_CHECKPOINT_MISMATCH',
    });
  });

  it('a truncated store, a forged note; a note of another log is skipped', async () => {
    const { leaves, notes } = await log(300);
    expect(
      verifyTlogCheckpoints(crypto, leaves.slice(0, 250), notes, origin, keys.publicKey),
    ).toMatchObject({ ok: false, problem: 'TRUNCATED' });
    const other = crypto.signKeyPair();
    const forged = signed(300, treeRoot(crypto, leafHashArray(leaves), 300), other.secretKey);
    expect(
      verifyTlogCheckpoints(crypto, leaves, [...notes, forged], origin, keys.publicKey),
    ).toMatchObject({ ok: false, problem: 'TLOG_CHECKPOINT_BAD_SIGNATURE' });
    const elsewhere = signed(999, new Uint8Array(32), other.secretKey, 'example.org/other-log');
    expect(
      verifyTlogCheckpoints(crypto, leaves, [...notes, elsewhere], origin, keys.publicKey),
    ).toEqual({ ok: true, checkpoints: 3, consistentPairs: 2 });
  });
});
