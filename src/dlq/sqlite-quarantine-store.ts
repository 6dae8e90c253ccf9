import Database from 'better-sqlite3';
import type {
  ArrivalBucket,
  NewQuarantineEntry,
  QuarantineEntry,
  QuarantineFilter,
  QuarantineHeader,
  QuarantineReason,
  QuarantineStatus,
  QuarantineStore,
} from './quarantine-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS quarantine (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  dlq_topic        TEXT NOT NULL,
  dlq_partition    INTEGER NOT NULL,
  dlq_offset       TEXT NOT NULL,
  reason           TEXT NOT NULL,
  source_topic     TEXT,
  source_partition INTEGER,
  source_offset    TEXT,
  source_timestamp TEXT,
  consumer_group   TEXT,
  consumer         TEXT,
  attempt          INTEGER,
  record_key       BLOB,
  record_value     BLOB,
  headers          TEXT NOT NULL,
  value_hash       TEXT NOT NULL,
  sig_verified     INTEGER NOT NULL,
  arrived_at_ms    INTEGER NOT NULL,
  status           TEXT NOT NULL DEFAULT 'quarantined',
  released_at_ms   INTEGER,
  released_to      TEXT,
  requarantined_from INTEGER,
  released_by      TEXT,
  UNIQUE (dlq_topic, dlq_partition, dlq_offset)
);
-- The same source record dead-lettered twice by the same group (e.g. a redelivered dead-letter
-- write) is stored once.
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_source
  ON quarantine(source_topic, source_partition, source_offset, consumer_group)
  WHERE source_topic IS NOT NULL;
CREATE INDEX IF NOT EXISTS quarantine_reason ON quarantine(reason);
CREATE INDEX IF NOT EXISTS quarantine_arrived ON quarantine(arrived_at_ms);
CREATE INDEX IF NOT EXISTS quarantine_value_hash ON quarantine(value_hash);
-- The console's pages (docs/CONSOLE.md): each index ends in the rowid (id), so an equality filter
-- pages in id order without sorting.
CREATE INDEX IF NOT EXISTS quarantine_status ON quarantine(status);
CREATE INDEX IF NOT EXISTS quarantine_status_reason ON quarantine(status, reason);
CREATE INDEX IF NOT EXISTS quarantine_status_source ON quarantine(status, source_topic, source_partition);
-- The oldest quarantined arrival is one index seek; arrivals by reason read the index alone.
CREATE INDEX IF NOT EXISTS quarantine_status_arrived ON quarantine(status, arrived_at_ms);
CREATE INDEX IF NOT EXISTS quarantine_arrived_reason ON quarantine(arrived_at_ms, reason);
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO totals (name, value) VALUES ('purged', 0), ('released', 0);
`;

interface Row {
  id: number;
  dlq_topic: string;
  dlq_partition: number;
  dlq_offset: string;
  reason: string;
  source_topic: string | null;
  source_partition: number | null;
  source_offset: string | null;
  source_timestamp: string | null;
  consumer_group: string | null;
  consumer: string | null;
  attempt: number | null;
  record_key: Buffer | null;
  record_value: Buffer | null;
  headers: string;
  value_hash: string;
  sig_verified: number;
  arrived_at_ms: number;
  status: string;
  released_at_ms: number | null;
  released_to: string | null;
  requarantined_from: number | null;
  released_by: string | null;
}

function fromRow(r: Row): QuarantineEntry {
  return {
    id: r.id,
    dlqTopic: r.dlq_topic,
    dlqPartition: r.dlq_partition,
    dlqOffset: r.dlq_offset,
    reason: r.reason as QuarantineReason,
    sourceTopic: r.source_topic,
    sourcePartition: r.source_partition,
    sourceOffset: r.source_offset,
    sourceTimestamp: r.source_timestamp,
    consumerGroup: r.consumer_group,
    consumer: r.consumer,
    attempt: r.attempt,
    key: r.record_key === null ? null : new Uint8Array(r.record_key),
    value: r.record_value === null ? null : new Uint8Array(r.record_value),
    headers: JSON.parse(r.headers) as QuarantineHeader[],
    valueHash: r.value_hash,
    signatureVerified: r.sig_verified === 1,
    arrivedAtMs: r.arrived_at_ms,
    status: r.status as QuarantineStatus,
    releasedAtMs: r.released_at_ms,
    releasedTo: r.released_to,
    requarantinedFrom: r.requarantined_from,
    releasedBy: r.released_by,
  };
}

/**
 * The listing's SQL: equality filters and keyset paging (`id > afterId ORDER BY id LIMIT n`), so a page
 * is an index range, never a scan of the table (test/unit/dlq/sqlite-quarantine-plan.test.ts shows the
 * plan). Exported for that test.
 */
export function sqliteListQuery(filter: QuarantineFilter): {
  sql: string;
  args: (string | number)[];
} {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.reason !== undefined) {
    where.push('reason = ?');
    args.push(filter.reason);
  }
  if (filter.sourceTopic !== undefined) {
    where.push('source_topic = ?');
    args.push(filter.sourceTopic);
  }
  if (filter.sourcePartition !== undefined) {
    where.push('source_partition = ?');
    args.push(filter.sourcePartition);
  }
  if (filter.status !== undefined) {
    where.push('status = ?');
    args.push(filter.status);
  }
  if (filter.afterId !== undefined) {
    where.push('id > ?');
    args.push(filter.afterId);
  }
  if (filter.arrivedBeforeMs !== undefined) {
    where.push('arrived_at_ms < ?');
    args.push(filter.arrivedBeforeMs);
  }
  const limit = Math.min(Math.max(filter.limit ?? 1000, 1), 100_000);
  const sql = `SELECT * FROM quarantine ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id LIMIT ${limit}`;
  return { sql, args };
}

/** The arrivals-by-reason SQL: a range of the arrival index, grouped (exported for the plan test). */
export function sqliteArrivalsQuery(range: { fromMs: number; bucketMs: number }): {
  sql: string;
  args: number[];
} {
  const bucketMs = Math.max(1, Math.floor(range.bucketMs));
  return {
    sql: `SELECT CAST((arrived_at_ms - ?) / ? AS INTEGER) AS bucket, reason, COUNT(*) AS count FROM quarantine
           WHERE arrived_at_ms >= ? GROUP BY bucket, reason ORDER BY bucket, reason`,
    args: [range.fromMs, bucketMs, range.fromMs],
  };
}

/**
 * The embedded quarantine store: one SQLite file, WAL mode, one transaction per batch. One writer
 * process per file (docs/STORES.md); the asynchronous port is served by synchronous calls.
 */
export class SqliteQuarantineStore implements QuarantineStore {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    // A store created before re-quarantined entries were linked: add the column first (the value
    // hash index of SCHEMA does not need it).
    const table = this.#db.prepare("SELECT name FROM pragma_table_info('quarantine')").all() as {
      name: string;
    }[];
    if (table.length > 0 && !table.some((c) => c.name === 'requarantined_from'))
      this.#db.exec('ALTER TABLE quarantine ADD COLUMN requarantined_from INTEGER');
    if (table.length > 0 && !table.some((c) => c.name === 'released_by'))
      this.#db.exec('ALTER TABLE quarantine ADD COLUMN released_by TEXT');
    this.#db.exec(SCHEMA);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async add(entries: readonly NewQuarantineEntry[]): Promise<number> {
    const insert = this.#db.prepare(
      `INSERT OR IGNORE INTO quarantine (dlq_topic, dlq_partition, dlq_offset, reason, source_topic,
         source_partition, source_offset, source_timestamp, consumer_group, consumer, attempt,
         record_key, record_value, headers, value_hash, sig_verified, arrived_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The same record (digest) released to the topic it now comes from, for the same group.
    const released = this.#db.prepare(
      `SELECT id, attempt FROM quarantine
        WHERE value_hash = ? AND status = 'released' AND released_to = ? AND consumer_group IS ?
        ORDER BY id DESC LIMIT 1`,
    );
    const link = this.#db.prepare(
      'UPDATE quarantine SET attempt = ?, requarantined_from = ? WHERE id = ?',
    );
    const run = this.#db.transaction((batch: readonly NewQuarantineEntry[]) => {
      let added = 0;
      for (const e of batch) {
        const previous =
          e.sourceTopic === null
            ? undefined
            : (released.get(e.valueHash, e.sourceTopic, e.consumerGroup) as
                { id: number; attempt: number | null } | undefined);
        const info = insert.run(
          e.dlqTopic,
          e.dlqPartition,
          e.dlqOffset,
          e.reason,
          e.sourceTopic,
          e.sourcePartition,
          e.sourceOffset,
          e.sourceTimestamp,
          e.consumerGroup,
          e.consumer,
          e.attempt,
          e.key === null ? null : Buffer.from(e.key),
          e.value === null ? null : Buffer.from(e.value),
          JSON.stringify(e.headers),
          e.valueHash,
          e.signatureVerified ? 1 : 0,
          e.arrivedAtMs,
        );
        if (info.changes === 1 && previous !== undefined)
          link.run((previous.attempt ?? 1) + 1, previous.id, info.lastInsertRowid);
        added += info.changes;
      }
      return added;
    });
    return run(entries);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async get(id: number): Promise<QuarantineEntry | undefined> {
    const row = this.#db.prepare('SELECT * FROM quarantine WHERE id = ?').get(id) as
      Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async list(filter: QuarantineFilter): Promise<QuarantineEntry[]> {
    const { sql, args } = sqliteListQuery(filter);
    return (this.#db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async markReleased(id: number, to: string, atMs: number, by?: string): Promise<boolean> {
    const mark = this.#db.prepare(
      "UPDATE quarantine SET status = 'released', released_at_ms = ?, released_to = ?, released_by = ? WHERE id = ? AND status = 'quarantined'",
    );
    const count = this.#db.prepare("UPDATE totals SET value = value + 1 WHERE name = 'released'");
    return this.#db.transaction(() => {
      const changed = mark.run(atMs, to, by ?? null, id).changes === 1;
      if (changed) count.run();
      return changed;
    })();
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async purge(ids: readonly number[]): Promise<number> {
    const del = this.#db.prepare('DELETE FROM quarantine WHERE id = ?');
    const count = this.#db.prepare("UPDATE totals SET value = value + ? WHERE name = 'purged'");
    const run = this.#db.transaction((list: readonly number[]) => {
      let n = 0;
      for (const id of list) n += del.run(id).changes;
      count.run(n);
      return n;
    });
    return run(ids);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async countsByReason(): Promise<Record<string, number>> {
    const rows = this.#db
      .prepare(
        "SELECT reason, COUNT(*) AS n FROM quarantine WHERE status = 'quarantined' GROUP BY reason",
      )
      .all() as { reason: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async arrivalsByReason(range: { fromMs: number; bucketMs: number }): Promise<ArrivalBucket[]> {
    const { sql, args } = sqliteArrivalsQuery(range);
    return this.#db.prepare(sql).all(...args) as ArrivalBucket[];
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async totals(): Promise<{ released: number; purged: number }> {
    const rows = this.#db.prepare('SELECT name, value FROM totals').all() as {
      name: string;
      value: number;
    }[];
    const get = (name: string): number => rows.find((r) => r.name === name)?.value ?? 0;
    return { released: get('released'), purged: get('purged') };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async oldestArrivalMs(): Promise<number | null> {
    const row = this.#db
      .prepare("SELECT MIN(arrived_at_ms) AS t FROM quarantine WHERE status = 'quarantined'")
      .get() as { t: number | null };
    return row.t;
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async close(): Promise<void> {
    this.#db.close();
  }
}
