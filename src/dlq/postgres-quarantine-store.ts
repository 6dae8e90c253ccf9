import {
  PostgresDatabase,
  int8,
  type Migration,
  type PostgresConnectOptions,
} from '../stores/postgres-database.js';
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

/**
 * The quarantine store's schema, versioned (docs/STORES.md). Never edit a released migration: add one.
 * The same columns and the same two idempotency keys as the SQLite store: the dead-letter coordinates,
 * and the source coordinates with the consumer group.
 */
export const QUARANTINE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'quarantine entries and totals',
    sql: `
CREATE TABLE quarantine (
  id                 BIGSERIAL PRIMARY KEY,
  dlq_topic          TEXT NOT NULL,
  dlq_partition      INTEGER NOT NULL,
  dlq_offset         TEXT NOT NULL,
  reason             TEXT NOT NULL,
  source_topic       TEXT,
  source_partition   INTEGER,
  source_offset      TEXT,
  source_timestamp   TEXT,
  consumer_group     TEXT,
  consumer           TEXT,
  attempt            INTEGER,
  record_key         BYTEA,
  record_value       BYTEA,
  headers            TEXT NOT NULL,
  value_hash         TEXT NOT NULL,
  sig_verified       BOOLEAN NOT NULL,
  arrived_at_ms      BIGINT NOT NULL,
  status             TEXT NOT NULL DEFAULT 'quarantined',
  released_at_ms     BIGINT,
  released_to        TEXT,
  requarantined_from BIGINT,
  UNIQUE (dlq_topic, dlq_partition, dlq_offset)
);
CREATE UNIQUE INDEX quarantine_source
  ON quarantine (source_topic, source_partition, source_offset, consumer_group)
  WHERE source_topic IS NOT NULL;
CREATE INDEX quarantine_reason ON quarantine (reason);
CREATE INDEX quarantine_arrived ON quarantine (arrived_at_ms);
CREATE INDEX quarantine_value_hash ON quarantine (value_hash);
CREATE TABLE quarantine_totals (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO quarantine_totals (name, value) VALUES ('purged', 0), ('released', 0);
`,
  },
  {
    version: 2,
    name: 'who released an entry; indexes for the console pages',
    sql: `
ALTER TABLE quarantine ADD COLUMN released_by TEXT;
CREATE INDEX quarantine_status_id ON quarantine (status, id);
CREATE INDEX quarantine_status_reason ON quarantine (status, reason);
CREATE INDEX quarantine_reason_id ON quarantine (reason, id);
CREATE INDEX quarantine_topic_partition_id ON quarantine (source_topic, source_partition, id);
CREATE INDEX quarantine_status_arrived ON quarantine (status, arrived_at_ms);
CREATE INDEX quarantine_arrived_reason ON quarantine (arrived_at_ms, reason);
`,
  },
];

interface Row {
  id: string;
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
  sig_verified: boolean;
  arrived_at_ms: string;
  status: string;
  released_at_ms: string | null;
  released_to: string | null;
  requarantined_from: string | null;
  released_by: string | null;
}

function fromRow(r: Row): QuarantineEntry {
  return {
    id: int8(r.id),
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
    signatureVerified: r.sig_verified,
    arrivedAtMs: int8(r.arrived_at_ms),
    status: r.status as QuarantineStatus,
    releasedAtMs: r.released_at_ms === null ? null : int8(r.released_at_ms),
    releasedTo: r.released_to,
    requarantinedFrom: r.requarantined_from === null ? null : int8(r.requarantined_from),
    releasedBy: r.released_by,
  };
}

/** Orders a batch by its dead-letter coordinates, so concurrent writers take row locks in one order. */
function byCoordinates(a: NewQuarantineEntry, b: NewQuarantineEntry): number {
  if (a.dlqTopic !== b.dlqTopic) return a.dlqTopic < b.dlqTopic ? -1 : 1;
  if (a.dlqPartition !== b.dlqPartition) return a.dlqPartition - b.dlqPartition;
  const d = BigInt(a.dlqOffset) - BigInt(b.dlqOffset);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/**
 * The shared quarantine store: PostgreSQL, for several dead-letter workers and the CLI
 * (docs/STORES.md). A batch is stored in one transaction; `INSERT … ON CONFLICT DO NOTHING` on the two
 * unique keys makes a redelivered or concurrently written dead letter a no-op, so each is stored
 * exactly once across instances (a writer waits for the other's transaction on the same key).
 */
export class PostgresQuarantineStore implements QuarantineStore {
  readonly #db: PostgresDatabase;

  private constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  /** Connects and migrates the schema to the newest version. */
  static async open(options: PostgresConnectOptions): Promise<PostgresQuarantineStore> {
    const db = await PostgresDatabase.connect(options);
    try {
      await db.migrate('quarantine', QUARANTINE_MIGRATIONS);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PostgresQuarantineStore(db);
  }

  async add(entries: readonly NewQuarantineEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    const batch = [...entries].sort(byCoordinates);
    return this.#db.transaction(async (tx) => {
      let added = 0;
      for (const e of batch) {
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO quarantine (dlq_topic, dlq_partition, dlq_offset, reason, source_topic,
             source_partition, source_offset, source_timestamp, consumer_group, consumer, attempt,
             record_key, record_value, headers, value_hash, sig_verified, arrived_at_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT DO NOTHING RETURNING id`,
          [
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
            e.signatureVerified,
            e.arrivedAtMs,
          ],
        );
        const id = rows[0]?.id;
        if (id === undefined) continue;
        added++;
        if (e.sourceTopic === null) continue;
        // The same record (digest) released to the topic it now comes from, for the same group.
        const { rows: previous } = await tx.query<{ id: string; attempt: number | null }>(
          `SELECT id, attempt FROM quarantine
            WHERE value_hash = $1 AND status = 'released' AND released_to = $2
              AND consumer_group IS NOT DISTINCT FROM $3 AND id <> $4
            ORDER BY id DESC LIMIT 1`,
          [e.valueHash, e.sourceTopic, e.consumerGroup, id],
        );
        const p = previous[0];
        if (p !== undefined)
          await tx.query(
            'UPDATE quarantine SET attempt = $1, requarantined_from = $2 WHERE id = $3',
            [(p.attempt ?? 1) + 1, p.id, id],
          );
      }
      return added;
    });
  }

  async get(id: number): Promise<QuarantineEntry | undefined> {
    const { rows } = await this.#db.query<Row>('SELECT * FROM quarantine WHERE id = $1', [id]);
    return rows[0] === undefined ? undefined : fromRow(rows[0]);
  }

  async list(filter: QuarantineFilter): Promise<QuarantineEntry[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const param = (v: string | number): string => {
      args.push(v);
      return `$${args.length}`;
    };
    if (filter.reason !== undefined) where.push(`reason = ${param(filter.reason)}`);
    if (filter.sourceTopic !== undefined) where.push(`source_topic = ${param(filter.sourceTopic)}`);
    if (filter.sourcePartition !== undefined)
      where.push(`source_partition = ${param(filter.sourcePartition)}`);
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
    if (filter.afterId !== undefined) where.push(`id > ${param(filter.afterId)}`);
    if (filter.arrivedBeforeMs !== undefined)
      where.push(`arrived_at_ms < ${param(filter.arrivedBeforeMs)}`);
    const limit = Math.min(Math.max(filter.limit ?? 1000, 1), 100_000);
    const { rows } = await this.#db.query<Row>(
      `SELECT * FROM quarantine ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${limit}`,
      args,
    );
    return rows.map(fromRow);
  }

  markReleased(id: number, to: string, atMs: number, by?: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE quarantine SET status = 'released', released_at_ms = $1, released_to = $2,
            released_by = $4
          WHERE id = $3 AND status = 'quarantined'`,
        [atMs, to, id, by ?? null],
      );
      if (rowCount !== 1) return false;
      await tx.query("UPDATE quarantine_totals SET value = value + 1 WHERE name = 'released'");
      return true;
    });
  }

  purge(ids: readonly number[]): Promise<number> {
    return this.#db.transaction(async (tx) => {
      const { rowCount } = await tx.query('DELETE FROM quarantine WHERE id = ANY($1::bigint[])', [
        [...ids],
      ]);
      await tx.query("UPDATE quarantine_totals SET value = value + $1 WHERE name = 'purged'", [
        rowCount,
      ]);
      return rowCount;
    });
  }

  async countsByReason(): Promise<Record<string, number>> {
    const { rows } = await this.#db.query<{ reason: string; n: string }>(
      "SELECT reason, COUNT(*) AS n FROM quarantine WHERE status = 'quarantined' GROUP BY reason",
    );
    return Object.fromEntries(rows.map((r) => [r.reason, int8(r.n)]));
  }

  async arrivalsByReason(range: { fromMs: number; bucketMs: number }): Promise<ArrivalBucket[]> {
    const bucketMs = Math.max(1, Math.floor(range.bucketMs));
    const { rows } = await this.#db.query<{ bucket: string; reason: string; count: string }>(
      `SELECT (arrived_at_ms - $1) / $2 AS bucket, reason, COUNT(*) AS count FROM quarantine
        WHERE arrived_at_ms >= $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [range.fromMs, bucketMs],
    );
    return rows.map((r) => ({ bucket: int8(r.bucket), reason: r.reason, count: int8(r.count) }));
  }

  async totals(): Promise<{ released: number; purged: number }> {
    const { rows } = await this.#db.query<{ name: string; value: string }>(
      'SELECT name, value FROM quarantine_totals',
    );
    const get = (name: string): number => {
      const row = rows.find((r) => r.name === name);
      return row === undefined ? 0 : int8(row.value);
    };
    return { released: get('released'), purged: get('purged') };
  }

  async oldestArrivalMs(): Promise<number | null> {
    const { rows } = await this.#db.query<{ t: string | null }>(
      "SELECT MIN(arrived_at_ms) AS t FROM quarantine WHERE status = 'quarantined'",
    );
    const t = rows[0]?.t ?? null;
    return t === null ? null : int8(t);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
