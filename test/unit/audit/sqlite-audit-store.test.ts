import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log.js';
import { signCheckpoint } from '../../../src/audit/audit-checkpoint.js';
import type { MetadataEvent } from '../../../src/events/metadata-event.js';

let crypto: CryptoProvider;
const dirs: string[] = [];
beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
});
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const d = mkdtempSync(join(tmpdir(), 'sealpost-audit-'));
  dirs.push(d);
  return join(d, 'audit.db');
}

const ev = (n: number, extra: Partial<MetadataEvent> = {}): MetadataEvent => ({
  eventId: n.toString(16).padStart(32, '0'),
  type: 'opened',
  timeMs: 1_700_000_000_000 + n,
  actor: 'billing',
  sender: n % 2 === 0 ? 'orders' : 'refunds',
  topic: n % 3 === 0 ? 'payments' : 'orders',
  messageId: `m${n}`,
  partition: 0,
  offset: String(n),
  ...extra,
});

describe('SqliteAuditStore', () => {
  it('appends in order, skips redelivered events, and survives a reopen', async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path, crypto);
    expect(await store.append([ev(0), ev(1), ev(2)])).toBe(3);
    expect(await store.append([ev(2), ev(3), ev(3)])).toBe(1);
    expect((await store.head()).count).toBe(4);
    const head = (await store.head()).headHash;
    await store.close();
    const again = new SqliteAuditStore(path, crypto);
    expect((await again.head()).count).toBe(4);
    expect(Buffer.from((await again.head()).headHash).equals(Buffer.from(head))).toBe(true);
    expect(await again.append([ev(1)])).toBe(0);
    await again.close();
  });

  it('refuses invalid events as a whole batch, appending none', async () => {
    const store = new SqliteAuditStore(tempDb(), crypto);
    const bad = { ...ev(1), payload: 'secret' } as unknown as MetadataEvent;
    await expect(store.append([ev(0), bad])).rejects.toThrow(/invalid event/);
    expect((await store.head()).count).toBe(0);
    await store.close();
  });

  it('queries by message id, sender, topic and time range', async () => {
    const store = new SqliteAuditStore(tempDb(), crypto);
    await store.append(Array.from({ length: 30 }, (_, i) => ev(i)));
    expect((await store.query({ messageId: 'm7' })).map((r) => r.index)).toEqual([7]);
    expect(await store.query({ sender: 'orders' })).toHaveLength(15);
    expect(
      (await store.query({ topic: 'payments', sender: 'orders' })).map((r) => r.event.eventId),
    ).toEqual([0, 6, 12, 18, 24].map((n) => n.toString(16).padStart(32, '0')));
    expect(await store.query({ fromMs: 1_700_000_000_010, toMs: 1_700_000_000_012 })).toHaveLength(
      3,
    );
    expect((await store.query({ afterIndex: 27 })).map((r) => r.index)).toEqual([28, 29]);
    await store.close();
  });

  it('blocks updates and deletes through SQL', async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path, crypto);
    await store.append([ev(0), ev(1)]);
    await store.close();
    const db = new Database(path);
    expect(() => db.prepare('DELETE FROM entries WHERE idx = 0').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE entries SET sender = 'x'").run()).toThrow(/append-only/);
    db.close();
  });

  it('an edit made by someone holding the file is found by verification at its index', async () => {
    const path = tempDb();
    const store = new SqliteAuditStore(path, crypto);
    await store.append(Array.from({ length: 200 }, (_, i) => ev(i)));
    const keys = crypto.signKeyPair();
    const kid = new Uint8Array(16).fill(1);
    const head = await store.head();
    await store.addCheckpoint(
      signCheckpoint(crypto, head.count, head.headHash, 1, kid, keys.secretKey),
    );
    expect(
      (
        await verifyAuditLog(
          crypto,
          store.entries(),
          await store.checkpoints(),
          keys.publicKey,
          kid,
        )
      ).ok,
    ).toBe(true);
    await store.close();

    const db = new Database(path);
    db.exec('DROP TRIGGER entries_no_update');
    db.prepare(
      `UPDATE entries SET event = CAST(replace(CAST(event AS TEXT), 'refunds', 'orders') AS BLOB) WHERE idx = 57`,
    ).run();
    db.close();
    const reopened = new SqliteAuditStore(path, crypto);
    const r = await verifyAuditLog(
      crypto,
      reopened.entries(),
      await reopened.checkpoints(),
      keys.publicKey,
      kid,
    );
    expect(r).toMatchObject({ ok: false, firstBadIndex: 57, problem: 'ENTRY_HASH_MISMATCH' });
    await reopened.close();
  });
});
