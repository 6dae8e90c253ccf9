/**
 * #21.3: `audit verify` covers every stored column that it or `audit query` relies on. An edit of one
 * entry's indexed columns (what `query` filters on: message id, sender, topic, type, time; the event
 * id the store deduplicates on) behind the store's back makes verify fail at that entry's index —
 * before, verify said OK while query no longer found the entry. And `query --sender` finds the
 * `sealed` events of that sender (their actor is the sender) (#21.10).
 */
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import {
  auditEvent,
  makeAuditFixture,
  type AuditFixture,
} from '../../support/audit-log-fixture.js';
import { runCli } from '../../support/run-cli.js';

let dir: string;
let fx: AuditFixture;
const EDITED = 7;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-audit-cols-'));
  fx = await makeAuditFixture(dir);
  await fx.grow(20);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A copy of the store with one column of entry EDITED set to `value` (as someone with the file would). */
async function editedCopy(column: string, value: string | number | null): Promise<string> {
  const path = join(dir, `audit-${column}.db`);
  await copyFile(fx.env.SEALPOST_AUDIT_DB!, path);
  const db = new Database(path);
  try {
    db.exec('DROP TRIGGER IF EXISTS entries_no_update');
    const r = db.prepare(`UPDATE entries SET ${column} = ? WHERE idx = ?`).run(value, EDITED);
    if (r.changes !== 1) throw new Error('edit did not apply');
  } finally {
    db.close();
  }
  return path;
}

describe('audit verify covers the columns audit query reads (#21.3)', () => {
  const edits: [string, string | number | null][] = [
    ['sender', 'mallory'],
    ['sender', null],
    ['message_id', 'f'.repeat(32)],
    ['topic', 'elsewhere.v1'],
    ['type', 'rejected'],
    ['time_ms', 1],
    ['event_id', 'e'.repeat(32)],
  ];
  it.each(edits)('an edit of %s (to %s) fails verify at that index', async (column, value) => {
    const db = await editedCopy(column, value);
    const env = { ...fx.env, SEALPOST_AUDIT_DB: db };
    const r = await runCli(['audit', 'verify', '--no-published', '--json'], env);
    expect(r.code, r.out + r.err).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; firstBadIndex: number; detail: string };
    expect(report).toMatchObject({ ok: false, firstBadIndex: EDITED });
    expect(report.detail).toContain(column);
  });

  it('the unedited store verifies', async () => {
    const r = await runCli(['audit', 'verify', '--no-published'], fx.env);
    expect(r.code, r.err).toBe(0);
  });
});

describe('audit query --sender (#21.10)', () => {
  it('finds the sealed events of a sender: the actor of a sealed event is its sender', async () => {
    const db = join(dir, 'sealed.db');
    const store = new SqliteAuditStore(db, await createCryptoProvider());
    const { sender: _s, ...sealed } = auditEvent(1000, { type: 'sealed', actor: 'orders' });
    await store.append([sealed, auditEvent(1001, { type: 'opened', sender: 'orders' })]);
    await store.close();
    const r = await runCli(['audit', 'query', '--sender', 'orders', '--type', 'sealed', '--json'], {
      ...fx.env,
      SEALPOST_AUDIT_DB: db,
    });
    expect(r.code, r.err).toBe(0);
    expect(
      (JSON.parse(r.out) as { event: { eventId: string } }[]).map((e) => e.event.eventId),
    ).toEqual([sealed.eventId]);
  });
});
