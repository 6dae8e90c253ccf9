/**
 * How fast the console's pages load with a large quarantine (docs/CONSOLE.md): a SQLite quarantine
 * store filled with `entries` dead letters (a real 537-byte envelope each, 8 reasons, 2 topics × 6
 * partitions, arrivals spread over 30 days) and an audit log of 10,000 events, served by the console
 * over node:http on 127.0.0.1; each page fetched `rounds` times by a bearer caller, whole response read.
 *   npx tsx bench/console.ts [entries=100000] [rounds=30]
 * With SEALPOST_BENCH_POSTGRES_URL (e.g. the stack's SEALPOST_TEST_POSTGRES_URL) the quarantine is a
 * PostgreSQL store in a fresh schema (filled with one INSERT … SELECT, dropped afterwards).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import { ConsoleAuth } from '../src/console/console-auth.js';
import { createConsoleApp } from '../src/console/console-app.js';
import { ConsoleServer } from '../src/console/console-server.js';
import type { ConsoleServices } from '../src/console/console-services.js';
import { createCryptoProvider } from '../src/crypto/index.js';
import { QUARANTINE_REASONS, type NewQuarantineEntry } from '../src/dlq/quarantine-store.js';
import { PostgresQuarantineStore } from '../src/dlq/postgres-quarantine-store.js';
import type { QuarantineStore } from '../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../src/dlq/sqlite-quarantine-store.js';
import { PostgresDatabase } from '../src/stores/postgres-database.js';
import { systemClock } from '../src/runtime/clock.js';

const entries = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 30);
const TOKEN = 'bench-operator-token-0123456789abcdef0123456789';

const vector = readFileSync(
  join(import.meta.dirname, '../test/vectors/golden-basic.vector'),
  'utf8',
);
const lines = vector.split('\n');
const envelope = Buffer.from(
  lines
    .slice(lines.indexOf('envelope:') + 1)
    .filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('  ')))
    .map((l) => l.trim())
    .join(''),
  'hex',
);

const crypto = await createCryptoProvider();
const dir = mkdtempSync(join(tmpdir(), 'sealpost-console-bench-'));
const now = systemClock.nowMs();
const t0 = performance.now();
const postgresUrl = process.env.SEALPOST_BENCH_POSTGRES_URL;
const schema = `console_bench_${process.pid}`;
let store: QuarantineStore;
if (postgresUrl !== undefined) {
  store = await PostgresQuarantineStore.open({ url: postgresUrl, schema });
  const db = await PostgresDatabase.connect({ url: postgresUrl, schema });
  const reasons = `ARRAY[${QUARANTINE_REASONS.map((r) => `'${r}'`).join(',')}]`;
  await db.query(
    `INSERT INTO quarantine (dlq_topic, dlq_partition, dlq_offset, reason, source_topic,
       source_partition, source_offset, source_timestamp, consumer_group, consumer, attempt,
       record_key, record_value, headers, value_hash, sig_verified, arrived_at_ms)
     SELECT 'sealpost.dead-letter', n % 3, n::text, (${reasons})[n % ${QUARANTINE_REASONS.length} + 1],
       CASE WHEN n % 2 = 0 THEN 'orders' ELSE 'payments' END, n % 6, n::text, $1::text, 'billing',
       'billing', 1, convert_to('k' || n, 'UTF8'), $2::bytea, '[]', lpad(to_hex(n), 64, '0'), true,
       $3::bigint - ((($4::bigint - n) * 30 * 86400000) / $4::bigint)
     FROM generate_series(0, $4::bigint - 1) AS n`,
    [String(now), envelope, now, entries],
  );
  // As autovacuum would have by now: statistics, and the visibility map for index-only scans.
  await db.query('VACUUM ANALYZE quarantine');
  await db.close();
} else {
  store = new SqliteQuarantineStore(join(dir, 'quarantine.db'));
}
for (let start = 0; postgresUrl === undefined && start < entries; start += 5000) {
  const batch: NewQuarantineEntry[] = [];
  for (let n = start; n < Math.min(entries, start + 5000); n++) {
    batch.push({
      dlqTopic: 'sealpost.dead-letter',
      dlqPartition: n % 3,
      dlqOffset: String(n),
      reason: QUARANTINE_REASONS[n % QUARANTINE_REASONS.length]!,
      sourceTopic: n % 2 === 0 ? 'orders' : 'payments',
      sourcePartition: n % 6,
      sourceOffset: String(n),
      sourceTimestamp: String(now),
      consumerGroup: 'billing',
      consumer: 'billing',
      attempt: 1,
      key: Buffer.from(`k${n}`),
      value: envelope,
      headers: [],
      valueHash: n.toString(16).padStart(64, '0'),
      signatureVerified: true,
      // Spread over the last 30 days, oldest first.
      arrivedAtMs: now - Math.round(((entries - n) / entries) * 30 * 86_400_000),
    });
  }
  await store.add(batch);
}
// Every tenth entry released (the default listing shows quarantined ones).
const released = await store.list({ limit: 100_000 });
for (const e of released)
  if (e.id % 10 === 0) await store.markReleased(e.id, 'orders', now, 'bench');
const audit = new SqliteAuditStore(join(dir, 'audit.db'), crypto);
await audit.append(
  Array.from({ length: 10_000 }, (_, i) => ({
    eventId: i.toString(16).padStart(32, '0'),
    type: i % 2 === 0 ? ('sealed' as const) : ('opened' as const),
    timeMs: now - (10_000 - i) * 1000,
    actor: 'orders',
    sender: 'orders',
    topic: 'orders',
    partition: 0,
    offset: String(i),
    messageId: i.toString(16).padStart(32, 'a'),
  })),
);
console.log(
  `${postgresUrl === undefined ? 'SQLite' : 'PostgreSQL'}: filled ${entries} entries and 10000 audit events in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const services: ConsoleServices = {
  quarantine: store,
  release: () => Promise.reject(new Error('not in the bench')),
  withAuditLogs: (body) => body([{ partition: 0, origin: 'bench', store: audit }]),
  verifyAudit: () => Promise.resolve({ ok: true, logs: [], missingLogs: [] }),
  metricsText: () => Promise.resolve(''),
};
const auth = new ConsoleAuth({
  credentials: [{ name: 'bench', role: 'operator', token: TOKEN }],
  crypto,
  clock: systemClock,
});
const server = new ConsoleServer({
  app: createConsoleApp({ services, auth, clock: systemClock, logger: pino({ level: 'silent' }) }),
  port: 0,
});
await server.start();

function get(path: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, headers: { authorization: `Bearer ${TOKEN}` } },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const middle = Math.floor(entries / 2);
const pages: [string, string][] = [
  ['list (first page)', '/quarantine'],
  ['list, 30-day chart', '/quarantine?window=30d'],
  ['list, page after id ' + middle, `/quarantine?after=${middle}`],
  ['list, reason=STALE', '/quarantine?reason=STALE'],
  ['list, topic+partition', '/quarantine?topic=orders&partition=4'],
  ['list, older than 20d', '/quarantine?older=20d'],
  ['list, status=all, reason', '/quarantine?status=all&reason=HEADER&after=' + middle],
  ['entry detail', `/quarantine/${middle + 1}`],
  ['audit events', '/audit?type=sealed'],
  ['audit checkpoints', '/audit/checkpoints'],
  ['health', '/health'],
];
console.log(
  `${'page'.padEnd(34)} ${'median ms'.padStart(10)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)} ${'KiB'.padStart(6)}`,
);
for (const [label, path] of pages) {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rounds; i++) {
    const s = performance.now();
    const r = await get(path);
    times.push(performance.now() - s);
    if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
    bytes = r.bytes;
  }
  times.sort((a, b) => a - b);
  const q = (f: number): string =>
    times[Math.min(times.length - 1, Math.floor(f * times.length))]!.toFixed(1);
  console.log(
    `${label.padEnd(34)} ${q(0.5).padStart(10)} ${q(0.95).padStart(8)} ${q(1 - 1e-9).padStart(8)} ${(bytes / 1024).toFixed(0).padStart(6)}`,
  );
}
await server.stop();
auth.close();
await store.close();
await audit.close();
if (postgresUrl !== undefined) {
  const db = await PostgresDatabase.connect({ url: postgresUrl });
  await db.query(`DROP SCHEMA ${schema} CASCADE`);
  await db.close();
}
rmSync(dir, { recursive: true, force: true });
