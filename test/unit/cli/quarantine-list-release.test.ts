/**
 * #21.5: `quarantine list` shows what is still quarantined unless asked for every status, and says
 * when it truncates (with the option that pages on); a released record that comes back to the
 * dead-letter topic is linked to the entry it was released from (same record digest, released to its
 * source topic, same group): attempt incremented and flagged — and a bulk release by reason leaves it
 * alone unless --again (its cause was not fixed; re-releasing would cycle it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewQuarantineEntry } from '../../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import { runCli } from '../../support/run-cli.js';

let dir: string;

const entry = (n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
  dlqTopic: 'sealpost.dead-letter',
  dlqPartition: 0,
  dlqOffset: String(n),
  reason: 'HEADER',
  sourceTopic: 'orders.v1',
  sourcePartition: 0,
  sourceOffset: String(100 + n),
  sourceTimestamp: '1750000000000',
  consumerGroup: 'billing',
  consumer: 'billing',
  attempt: 1,
  key: Buffer.from(`key-${n}`),
  value: Buffer.from(`value-${n}`),
  headers: [],
  valueHash: n.toString(16).padStart(64, '0'),
  signatureVerified: true,
  arrivedAtMs: Date.now() - 60_000,
  ...over,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-qlist-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function storeWith(
  name: string,
  entries: NewQuarantineEntry[],
  released: number[] = [],
): Promise<string> {
  const path = join(dir, name);
  const store = new SqliteQuarantineStore(path);
  await store.add(entries);
  for (const id of released) await store.markReleased(id, 'orders.v1', Date.now());
  await store.close();
  return path;
}

describe('quarantine list (#21.5)', () => {
  it('lists only what is still quarantined by default; --status all lists every entry', async () => {
    const db = await storeWith('status.db', [entry(1), entry(2), entry(3)], [2]);
    const env = { SEALPOST_QUARANTINE_DB: db };
    const byDefault = await runCli(['quarantine', 'list', '--json'], env);
    expect(byDefault.code, byDefault.err).toBe(0);
    expect((JSON.parse(byDefault.out) as { id: number }[]).map((e) => e.id)).toEqual([1, 3]);
    const all = await runCli(['quarantine', 'list', '--status', 'all', '--json'], env);
    expect((JSON.parse(all.out) as { id: number }[]).map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('says when it truncates and how to page on; the pages cover every entry once', async () => {
    const db = await storeWith(
      'pages.db',
      Array.from({ length: 7 }, (_, i) => entry(i + 1)),
    );
    const env = { SEALPOST_QUARANTINE_DB: db };
    const seen: number[] = [];
    let args = ['quarantine', 'list', '--limit', '3', '--json'];
    for (let page = 0; page < 5; page++) {
      const r = await runCli(args, env);
      expect(r.code, r.err).toBe(0);
      seen.push(...(JSON.parse(r.out) as { id: number }[]).map((e) => e.id));
      const next = /--after-id (\d+)/.exec(r.err);
      if (next === null) {
        expect(r.err).toBe('');
        break;
      }
      expect(r.err).toContain('showing the first 3');
      args = ['quarantine', 'list', '--limit', '3', '--after-id', next[1]!, '--json'];
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const table = await runCli(['quarantine', 'list', '--limit', '3'], env);
    expect(table.out.trim().split('\n')).toHaveLength(4);
    expect(table.err).toMatch(/more entries match.*--after-id 3/);
  });
});

describe('a released record that comes back (#21.5)', () => {
  it('is linked to the entry it was released from: attempt + 1, flagged; bulk release skips it', async () => {
    const path = join(dir, 'again.db');
    const store = new SqliteQuarantineStore(path);
    await store.add([entry(1, { valueHash: 'cd'.repeat(32) })]);
    await store.markReleased(1, 'orders.v1', Date.now());
    // Dead-lettered again at its new offset on the source topic (the consumer's attempt restarts at 1).
    await store.add([entry(2, { valueHash: 'cd'.repeat(32), sourceOffset: '900' })]);
    await store.markReleased(2, 'orders.v1', Date.now());
    await store.add([entry(3, { valueHash: 'cd'.repeat(32), sourceOffset: '901' })]);
    // Same bytes, another group: not the same record's history.
    await store.add([
      entry(4, {
        valueHash: 'cd'.repeat(32),
        sourceOffset: '902',
        consumerGroup: 'audit',
        reason: 'STALE',
      }),
    ]);
    expect(await store.get(2)).toMatchObject({ attempt: 2, requarantinedFrom: 1 });
    expect(await store.get(3)).toMatchObject({ attempt: 3, requarantinedFrom: 2 });
    expect(await store.get(4)).toMatchObject({ attempt: 1, requarantinedFrom: null });
    await store.close();

    const env = { SEALPOST_QUARANTINE_DB: path };
    const list = await runCli(['quarantine', 'list'], env);
    expect(list.code, list.err).toBe(0);
    const row3 = list.out.split('\n').find((l) => /^3\s/.test(l))!;
    expect(row3).toMatch(/\b3\b.*requarantined from 2/);
    // No Kafka needed: the only candidate of the bulk release is skipped before any publish.
    const bulk = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], {
      ...env,
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    const results = JSON.parse(bulk.out) as { id: number; outcome: string }[];
    expect(results.find((r) => r.id === 3)).toMatchObject({ outcome: 'skipped' });
    expect(bulk.err).toContain('--again');
  });
});
