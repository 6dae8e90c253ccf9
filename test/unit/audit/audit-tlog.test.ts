import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/**
 * The audit log as a transparency log (docs/AUDIT.md): the recorder publishes, beside each
 * checkpoint, a C2SP checkpoint note of the same size whose root is the RFC 6962 head of the stored
 * events; the published notes verify pairwise; a note that a restart publishes again is identical;
 * a forked, forged or outrun note is refused with its own problem.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider, KeyPair } from '../../../src/crypto/provider.js';
import type { AuditStore } from '../../../src/audit/audit-store.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { AuditRecorder } from '../../../src/audit/audit-recorder.js';
import {
  AuditTlog,
  auditLeafHashes,
  auditLogOrigin,
  defaultAuditOrigin,
  parseAuditLogOrigin,
  verifyTlogCheckpoints,
} from '../../../src/audit/audit-tlog.js';
import { leafHash, leafHashArray, treeRoot } from '../../../src/audit/merkle-tree.js';
import { ed25519NoteSigner, ed25519NoteVerifier } from '../../../src/audit/signed-note.js';
import { openCheckpoint, signCheckpoint } from '../../../src/audit/tlog-checkpoint.js';
import { canonicalEventBytes, type MetadataEvent } from '../../../src/events/metadata-event.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log.js';

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
    expect(report).toMatchObject({ ok: true, checkpoints: 3, consistentPairs: 2 });
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
    ).toMatchObject({ ok: true, checkpoints: 3, consistentPairs: 2 });
  });
});

describe('audit-key rotation in the middle of a log', () => {
  // A log whose first 200 entries were checkpointed under key A, then the audit key was rotated and
  // the next checkpoints are signed by key B (the worker signs with the key in force at each one).
  async function rotatedLog() {
    const a = crypto.signKeyPair();
    const b = crypto.signKeyPair();
    let current = a;
    const store = new SqliteAuditStore(':memory:', crypto);
    const published: string[] = [];
    const recorder = new AuditRecorder({
      store,
      crypto,
      clock: new ManualClock(1_000_000),
      signer: {
        kid: new Uint8Array(16).fill(3),
        get secretKey() {
          return current.secretKey;
        },
      },
      checkpointEveryEntries: 100,
      tlog: new AuditTlog({
        crypto,
        entries: (from) => store.entries(from),
        origin,
        signer: () => ed25519NoteSigner(crypto, origin, current.secretKey),
      }),
      publisher: {
        publish: (_c, note) => {
          published.push(note!);
          return Promise.resolve();
        },
      },
    });
    await recorder.record(Array.from({ length: 200 }, (_, i) => ev(i)));
    current = b;
    await recorder.record(Array.from({ length: 200 }, (_, i) => ev(200 + i)));
    const leaves = await auditLeafHashes(crypto, store.entries());
    return { a, b, leaves, published };
  }

  it('verifies with both keys in their order, and names the keys that signed', async () => {
    const { a, b, leaves, published } = await rotatedLog();
    expect(published).toHaveLength(4);
    const report = verifyTlogCheckpoints(crypto, leaves, published, origin, [
      a.publicKey,
      b.publicKey,
    ]);
    expect(report).toMatchObject({ ok: true, checkpoints: 4, consistentPairs: 3 });
    expect(report.keyIds).toEqual([
      ed25519NoteVerifier(crypto, origin, a.publicKey).keyId.toString(16).padStart(8, '0'),
      ed25519NoteVerifier(crypto, origin, b.publicKey).keyId.toString(16).padStart(8, '0'),
    ]);
    // With the old key alone the new checkpoints do not open.
    expect(verifyTlogCheckpoints(crypto, leaves, published, origin, a.publicKey)).toMatchObject({
      ok: false,
      problem: 'TLOG_CHECKPOINT_BAD_SIGNATURE',
    });
  });

  it('refuses a later checkpoint signed by the retired key', async () => {
    const { a, b, leaves, published } = await rotatedLog();
    // The old key (stolen, or a stale worker) signs a larger tree head after the rotation.
    const late = signCheckpoint(
      { origin, size: 400, rootHash: treeRoot(crypto, leafHashArray(leaves), 400), extensions: [] },
      [ed25519NoteSigner(crypto, origin, a.secretKey)],
    );
    const report = verifyTlogCheckpoints(crypto, leaves, [...published.slice(0, 3), late], origin, [
      a.publicKey,
      b.publicKey,
    ]);
    expect(report).toMatchObject({ ok: false, problem: 'TLOG_CHECKPOINT_KEY_ORDER' });
  });
});

describe('per-partition origins', () => {
  it('name cluster, topic and partition, and parse back', () => {
    const o = auditLogOrigin({ cluster: 'prod-eu', topic: 'sealpost.metadata', partition: 5 });
    expect(o).toBe('sealpost/audit/prod-eu/sealpost.metadata/5');
    expect(parseAuditLogOrigin(o)).toEqual({
      cluster: 'prod-eu',
      topic: 'sealpost.metadata',
      partition: 5,
    });
    expect(parseAuditLogOrigin(defaultAuditOrigin('sealpost.metadata'))).toBeUndefined();
    expect(() => auditLogOrigin({ cluster: 'a b', topic: 't', partition: 0 })).toThrow(RangeError);
  });
});

describe('AuditRecorder fencing check', () => {
  it('notices entries another writer appended, and re-reads its stored checkpoints', async () => {
    const store = new SqliteAuditStore(':memory:', crypto);
    const foreign: { expected: number; found: number }[] = [];
    const recorder = (onForeignAppend?: (i: { expected: number; found: number }) => void) =>
      new AuditRecorder({
        store,
        crypto,
        clock: new ManualClock(1_000_000),
        signer: { kid: new Uint8Array(16).fill(3), secretKey: keys.secretKey },
        checkpointEveryEntries: 100,
        publisher: { publish: () => Promise.resolve() },
        ...(onForeignAppend === undefined ? {} : { onForeignAppend }),
      });
    const stale = recorder((i) => foreign.push(i));
    await stale.record(Array.from({ length: 50 }, (_, i) => ev(i)));
    // The partition's next owner continues the same log: 120 entries, a checkpoint at 100.
    const owner = recorder();
    await owner.record(Array.from({ length: 120 }, (_, i) => ev(50 + i)));
    expect((await store.checkpoints()).map((c) => c.count)).toEqual([100]);
    // The stale member appends once more (a batch in hand during the rebalance).
    await stale.record([ev(1000)]);
    expect(foreign).toEqual([{ expected: 50, found: 170 }]);
    // Its next checkpoint is due 100 entries after the owner's, not after its own view.
    expect(stale.lastCheckpointCount).toBe(100);
    expect((await store.head()).count).toBe(171);
  });
});

describe('AuditRecorder fencing rule', () => {
  it('does not sign a stale head smaller than a checkpoint another member stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealpost-fence-'));
    const path = join(dir, 'audit.p0.db');
    // Two members' connections to one log (two processes in production).
    const mine = new SqliteAuditStore(path, crypto);
    const theirs = new SqliteAuditStore(path, crypto);
    // The stale member's reads of the head: frozen at its own last append, as a head read that
    // raced the other member's appends (the stores read it from the database on every call).
    let frozenHead: { count: number; headHash: Uint8Array } | undefined;
    const staleView: AuditStore = {
      append: (events) => mine.append(events),
      head: async () => frozenHead ?? (await mine.head()),
      entries: (fromIndex) => mine.entries(fromIndex),
      addCheckpoint: (c) => mine.addCheckpoint(c),
      checkpoints: () => mine.checkpoints(),
      query: (filter) => mine.query(filter),
      close: () => mine.close(),
    };
    try {
      const recorder = (store: AuditStore) =>
        new AuditRecorder({
          store,
          crypto,
          clock: new ManualClock(1_000_000),
          signer: { kid: new Uint8Array(16).fill(3), secretKey: keys.secretKey },
          checkpointEveryEntries: 100,
          publisher: { publish: () => Promise.resolve() },
        });
      const stale = recorder(staleView);
      await stale.record(Array.from({ length: 50 }, (_, i) => ev(i)));
      frozenHead = await mine.head();
      await recorder(theirs).record(Array.from({ length: 250 }, (_, i) => ev(50 + i)));
      expect((await theirs.checkpoints()).map((c) => c.count)).toEqual([100, 200, 300]);
      // The stale member stops and checkpoints what it thinks the head is (50).
      const c = await stale.checkpointNow();
      expect(c.count).toBe(300);
      expect((await mine.checkpoints()).map((x) => x.count)).toEqual([100, 200, 300]);
      expect(
        await verifyAuditLog(
          crypto,
          mine.entries(),
          await mine.checkpoints(),
          keys.publicKey,
          new Uint8Array(16).fill(3),
        ),
      ).toMatchObject({ ok: true, count: 300 });
    } finally {
      await mine.close();
      await theirs.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
