/**
 * The console pages through a quarantine of 100,000 entries (docs/CONSOLE.md): every listing it asks
 * for must be an index range read in id order — never a scan of the table followed by a sort. SQLite's
 * own query plan (EXPLAIN QUERY PLAN) for the store's SQL shows it; no timing here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { QuarantineFilter } from '../../../src/dlq/quarantine-store.js';
import {
  SqliteQuarantineStore,
  sqliteArrivalsQuery,
  sqliteListQuery,
} from '../../../src/dlq/sqlite-quarantine-store.js';

const dir = mkdtempSync(join(tmpdir(), 'sealpost-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function planOf(sql: string, args: readonly (string | number)[]): Promise<string[]> {
  const path = join(dir, 'q.db');
  await new SqliteQuarantineStore(path).close();
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map(
      (r) => r.detail,
    );
  } finally {
    db.close();
  }
}

describe('the quarantine listing uses an index (EXPLAIN QUERY PLAN)', () => {
  const cases: [string, QuarantineFilter, string][] = [
    ['status', { status: 'quarantined' }, 'quarantine_status (status=?)'],
    [
      'status and reason, next page',
      { status: 'quarantined', reason: 'HEADER', afterId: 500 },
      'quarantine_status_reason (status=? AND reason=? AND rowid>?)',
    ],
    [
      'status, topic and partition',
      { status: 'quarantined', sourceTopic: 'orders', sourcePartition: 2 },
      'quarantine_status_source (status=? AND source_topic=? AND source_partition=?)',
    ],
    [
      'status and age, next page',
      { status: 'quarantined', arrivedBeforeMs: 1_700_000_000_000, afterId: 9 },
      'quarantine_status (status=? AND rowid>?)',
    ],
    ['reason (all statuses)', { reason: 'STALE' }, 'quarantine_reason (reason=?)'],
  ];
  for (const [name, filter, index] of cases) {
    it(`${name}: SEARCH USING INDEX ${index.split(' ')[0]}, no sort`, async () => {
      const { sql, args } = sqliteListQuery({ ...filter, limit: 51 });
      const plan = await planOf(sql, args);
      expect(plan).toEqual([`SEARCH quarantine USING INDEX ${index}`]);
    });
  }

  it('no filter: the primary key in id order, stopped by LIMIT (no sort)', async () => {
    const { sql, args } = sqliteListQuery({ limit: 51 });
    expect(await planOf(sql, args)).toEqual(['SCAN quarantine']);
    expect(sql).toMatch(/ORDER BY id LIMIT 51$/);
  });

  it('arrivals by reason: a range of the (arrival, reason) index, no table reads', async () => {
    const { sql, args } = sqliteArrivalsQuery({ fromMs: 1_700_000_000_000, bucketMs: 3_600_000 });
    const plan = await planOf(sql, args);
    expect(plan[0]).toBe(
      'SEARCH quarantine USING COVERING INDEX quarantine_arrived_reason (arrived_at_ms>?)',
    );
  });
});
