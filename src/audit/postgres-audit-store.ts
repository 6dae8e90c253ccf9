import type { CryptoProvider } from '../crypto/provider.js';
import {
  canonicalEventBytes,
  validateMetadataEvent,
  type MetadataEvent,
} from '../events/metadata-event.js';
import {
  PostgresDatabase,
  int8,
  type Migration,
  type PostgresConnectOptions,
} from '../stores/postgres-database.js';
import type { AuditCheckpoint } from './audit-checkpoint.js';
import { genesisHash, nextEntry } from './audit-chain.js';
import {
  AuditStoreError,
  auditQueryLimit,
  matchingEvents,
  type AuditQuery,
  type AuditStore,
  type StoredAuditEvent,
} from './audit-store.js';
import { indexedColumnsOf, type StoredAuditEntry } from './verify-audit-log.js';

/**
 * The audit store's schema, versioned (docs/STORES.md). Never edit a released migration: add one.
 * The same columns as the SQLite store; the entries are append-only (a trigger refuses UPDATE and
 * DELETE — defence against accidents; the chain and published checkpoints catch the rest).
 */
export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'audit entries and checkpoints',
    sql: `
CREATE TABLE audit_entries (
  idx        BIGINT PRIMARY KEY,
  event_id   TEXT NOT NULL UNIQUE,
  prev_hash  BYTEA NOT NULL,
  entry_hash BYTEA NOT NULL,
  event      BYTEA NOT NULL,
  type       TEXT NOT NULL,
  time_ms    BIGINT NOT NULL,
  message_id TEXT,
  sender     TEXT,
  topic      TEXT
);
CREATE INDEX audit_entries_message_id ON audit_entries (message_id);
CREATE INDEX audit_entries_sender ON audit_entries (sender);
CREATE INDEX audit_entries_topic ON audit_entries (topic);
CREATE INDEX audit_entries_time ON audit_entries (time_ms);
CREATE TABLE audit_checkpoints (
  id         BIGSERIAL PRIMARY KEY,
  count      BIGINT NOT NULL,
  head_hash  BYTEA NOT NULL,
  time_ms    BIGINT NOT NULL,
  signer_kid BYTEA NOT NULL,
  signature  BYTEA NOT NULL,
  UNIQUE (signature)
);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();
`,
  },
  {
    version: 2,
    name: 'one log per metadata partition',
    // Every log in one database, named by its origin (docs/AUDIT.md); the rows of the single log
    // written before per-partition logs keep the empty name. Index and eventId unique per log.
    sql: `
CREATE TABLE audit_logs (
  log TEXT PRIMARY KEY
);
ALTER TABLE audit_entries ADD COLUMN log TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_entries ALTER COLUMN log DROP DEFAULT;
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_pkey;
ALTER TABLE audit_entries DROP CONSTRAINT audit_entries_event_id_key;
ALTER TABLE audit_entries ADD PRIMARY KEY (log, idx);
ALTER TABLE audit_entries ADD CONSTRAINT audit_entries_log_event_id_key UNIQUE (log, event_id);
ALTER TABLE audit_checkpoints ADD COLUMN log TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_checkpoints ALTER COLUMN log DROP DEFAULT;
ALTER TABLE audit_checkpoints DROP CONSTRAINT audit_checkpoints_signature_key;
ALTER TABLE audit_checkpoints ADD CONSTRAINT audit_checkpoints_log_signature_key
  UNIQUE (log, signature);
CREATE INDEX audit_checkpoints_log ON audit_checkpoints (log, id);
INSERT INTO audit_logs (log)
  SELECT log FROM audit_entries UNION SELECT log FROM audit_checkpoints;
`,
  },
];

/** The log name of the single log written before per-partition logs (and of `open`). */
export const SINGLE_AUDIT_LOG = '';

/** Rows per page of `entries`. */
const ENTRY_PAGE_ROWS = 1000;

interface EntryRow {
  idx: string;
  prev_hash: Buffer;
  entry_hash: Buffer;
  event: Buffer;
  event_id: string;
  type: string;
  time_ms: string;
  message_id: string | null;
  sender: string | null;
  topic: string | null;
}

/**
 * The shared audit store: PostgreSQL, for several audit workers writing the logs (docs/STORES.md).
 * One database holds every log, each named by its origin (`log`). An append locks its log's row in
 * `audit_logs` for its transaction (readers and the other logs go on), reads the log's head, skips
 * events already stored in it (by eventId: a redelivery, or an event another worker appended first)
 * and chains the rest — so each log stays one valid chain and each event is stored exactly once in
 * it, however many writers. The unique (log, eventId) and (log, index) are the backstop.
 */
export class PostgresAuditStore implements AuditStore {
  readonly #db: PostgresDatabase;
  readonly #crypto: CryptoProvider;
  readonly #log: string;
  readonly #ownsDb: boolean;

  private constructor(db: PostgresDatabase, crypto: CryptoProvider, log: string, ownsDb: boolean) {
    this.#db = db;
    this.#crypto = crypto;
    this.#log = log;
    this.#ownsDb = ownsDb;
  }

  /**
   * Connects and migrates the schema to the newest version; the store is the single log of before
   * per-partition logs (SINGLE_AUDIT_LOG). `close` disconnects.
   */
  static async open(
    options: PostgresConnectOptions,
    crypto: CryptoProvider,
  ): Promise<PostgresAuditStore> {
    const db = await PostgresDatabase.connect(options);
    try {
      await PostgresAuditStore.migrate(db);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new PostgresAuditStore(db, crypto, SINGLE_AUDIT_LOG, true);
  }

  /** Brings the audit tables of `db` to the newest schema version. */
  static migrate(db: PostgresDatabase): Promise<void> {
    return db.migrate('audit', AUDIT_MIGRATIONS);
  }

  /**
   * The log named `log` (its origin) in a migrated database shared with other logs; `close` leaves the
   * database connected (its owner closes it).
   */
  static onDatabase(db: PostgresDatabase, crypto: CryptoProvider, log: string): PostgresAuditStore {
    return new PostgresAuditStore(db, crypto, log, false);
  }

  /** The names of the logs the database holds (with entries or checkpoints). */
  static async logNames(db: PostgresDatabase): Promise<string[]> {
    const { rows } = await db.query<{ log: string }>('SELECT log FROM audit_logs ORDER BY log');
    return rows.map((r) => r.log);
  }

  async append(events: readonly MetadataEvent[]): Promise<number> {
    for (const e of events) {
      const problems = validateMetadataEvent(e);
      if (problems.length > 0) {
        throw new AuditStoreError('AUDIT_EVENT_INVALID', `invalid event: ${problems.join('; ')}`);
      }
    }
    if (events.length === 0) return 0;
    return this.#db.transaction(async (tx) => {
      // One writer at a time extends a log's chain (its row in audit_logs, locked until commit);
      // readers and the other logs are not blocked. Statements after the lock see every append
      // committed before it (READ COMMITTED).
      await tx.query('INSERT INTO audit_logs (log) VALUES ($1) ON CONFLICT DO NOTHING', [
        this.#log,
      ]);
      await tx.query('SELECT log FROM audit_logs WHERE log = $1 FOR UPDATE', [this.#log]);
      const ids = [...new Set(events.map((e) => e.eventId))];
      const { rows: present } = await tx.query<{ event_id: string }>(
        'SELECT event_id FROM audit_entries WHERE log = $1 AND event_id = ANY($2::text[])',
        [this.#log, ids],
      );
      const seen = new Set(present.map((r) => r.event_id));
      const { rows: last } = await tx.query<{ idx: string; entry_hash: Buffer }>(
        'SELECT idx, entry_hash FROM audit_entries WHERE log = $1 ORDER BY idx DESC LIMIT 1',
        [this.#log],
      );
      let count = last[0] === undefined ? 0 : int8(last[0].idx) + 1;
      let headHash =
        last[0] === undefined ? genesisHash(this.#crypto) : new Uint8Array(last[0].entry_hash);
      const cols = {
        idx: [] as number[],
        eventId: [] as string[],
        prev: [] as Buffer[],
        hash: [] as Buffer[],
        event: [] as Buffer[],
        type: [] as string[],
        time: [] as number[],
        messageId: [] as (string | null)[],
        sender: [] as (string | null)[],
        topic: [] as (string | null)[],
      };
      for (const e of events) {
        if (seen.has(e.eventId)) continue;
        seen.add(e.eventId);
        const entry = nextEntry(this.#crypto, count, headHash, canonicalEventBytes(e));
        const c = indexedColumnsOf(e);
        cols.idx.push(entry.index);
        cols.eventId.push(c.event_id);
        cols.prev.push(Buffer.from(entry.prevHash));
        cols.hash.push(Buffer.from(entry.entryHash));
        cols.event.push(Buffer.from(entry.event));
        cols.type.push(c.type);
        cols.time.push(c.time_ms);
        cols.messageId.push(c.message_id);
        cols.sender.push(c.sender);
        cols.topic.push(c.topic);
        count++;
        headHash = entry.entryHash;
      }
      if (cols.idx.length === 0) return 0;
      await tx.query(
        `INSERT INTO audit_entries (log, idx, event_id, prev_hash, entry_hash, event, type, time_ms, message_id, sender, topic)
         SELECT $11, * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[], $5::bytea[], $6::text[],
                                   $7::bigint[], $8::text[], $9::text[], $10::text[])`,
        [
          cols.idx,
          cols.eventId,
          cols.prev,
          cols.hash,
          cols.event,
          cols.type,
          cols.time,
          cols.messageId,
          cols.sender,
          cols.topic,
          this.#log,
        ],
      );
      return cols.idx.length;
    });
  }

  async head(): Promise<{ count: number; headHash: Uint8Array }> {
    const { rows } = await this.#db.query<{ idx: string; entry_hash: Buffer }>(
      'SELECT idx, entry_hash FROM audit_entries WHERE log = $1 ORDER BY idx DESC LIMIT 1',
      [this.#log],
    );
    const last = rows[0];
    if (last === undefined) return { count: 0, headHash: genesisHash(this.#crypto) };
    return { count: int8(last.idx) + 1, headHash: new Uint8Array(last.entry_hash) };
  }

  /** Every entry in index order, page by page, with the indexed columns. */
  async *entries(fromIndex = 0): AsyncIterableIterator<StoredAuditEntry> {
    // From 0, every row whatever its idx (verify must see a row someone inserted out of range).
    let after: number | undefined;
    for (;;) {
      const where: string[] = ['log = $1'];
      const params: (string | number)[] = [this.#log];
      if (after !== undefined) {
        params.push(after);
        where.push(`idx > $${params.length}`);
      }
      if (fromIndex > 0) {
        params.push(fromIndex);
        where.push(`idx >= $${params.length}`);
      }
      const { rows } = await this.#db.query<EntryRow>(
        `SELECT idx, prev_hash, entry_hash, event, event_id, type, time_ms, message_id, sender, topic
           FROM audit_entries WHERE ${where.join(' AND ')}
          ORDER BY idx LIMIT ${ENTRY_PAGE_ROWS}`,
        params,
      );
      for (const row of rows) yield entryOf(row);
      if (rows.length < ENTRY_PAGE_ROWS) return;
      after = int8(rows[rows.length - 1]!.idx);
    }
  }

  async addCheckpoint(c: AuditCheckpoint): Promise<void> {
    // Stored once: the same signed checkpoint added again (a retried call) is a no-op.
    await this.#db.query('INSERT INTO audit_logs (log) VALUES ($1) ON CONFLICT DO NOTHING', [
      this.#log,
    ]);
    await this.#db.query(
      `INSERT INTO audit_checkpoints (log, count, head_hash, time_ms, signer_kid, signature)
       VALUES ($6, $1, $2, $3, $4, $5) ON CONFLICT (log, signature) DO NOTHING`,
      [
        c.count,
        Buffer.from(c.headHash),
        c.timeMs,
        Buffer.from(c.signerKid),
        Buffer.from(c.signature),
        this.#log,
      ],
    );
  }

  async checkpoints(): Promise<AuditCheckpoint[]> {
    const { rows } = await this.#db.query<{
      count: string;
      head_hash: Buffer;
      time_ms: string;
      signer_kid: Buffer;
      signature: Buffer;
    }>(
      'SELECT count, head_hash, time_ms, signer_kid, signature FROM audit_checkpoints WHERE log = $1 ORDER BY id',
      [this.#log],
    );
    return rows.map((r) => ({
      count: int8(r.count),
      headHash: new Uint8Array(r.head_hash),
      timeMs: int8(r.time_ms),
      signerKid: new Uint8Array(r.signer_kid),
      signature: new Uint8Array(r.signature),
    }));
  }

  async query(filter: AuditQuery): Promise<StoredAuditEvent[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const param = (v: string | number): string => {
      args.push(v);
      return `$${args.length}`;
    };
    where.push(`log = ${param(this.#log)}`);
    if (filter.messageId !== undefined) where.push(`message_id = ${param(filter.messageId)}`);
    if (filter.sender !== undefined)
      where.push(`(sender = ${param(filter.sender)} OR (sender IS NULL AND type = 'sealed'))`);
    if (filter.topic !== undefined) where.push(`topic = ${param(filter.topic)}`);
    if (filter.type !== undefined) where.push(`type = ${param(filter.type)}`);
    if (filter.fromMs !== undefined) where.push(`time_ms >= ${param(filter.fromMs)}`);
    if (filter.toMs !== undefined) where.push(`time_ms <= ${param(filter.toMs)}`);
    if (filter.afterIndex !== undefined) where.push(`idx > ${param(filter.afterIndex)}`);
    const { rows } = await this.#db.query<{ idx: string; event: Buffer }>(
      `SELECT idx, event FROM audit_entries WHERE ${where.join(' AND ')}
        ORDER BY idx LIMIT ${auditQueryLimit(filter)}`,
      args,
    );
    return matchingEvents(
      rows.map((r) => ({ idx: int8(r.idx), event: r.event })),
      filter,
    );
  }

  async close(): Promise<void> {
    if (this.#ownsDb) await this.#db.close();
  }
}

function entryOf(row: EntryRow): StoredAuditEntry {
  return {
    index: int8(row.idx),
    prevHash: new Uint8Array(row.prev_hash),
    entryHash: new Uint8Array(row.entry_hash),
    event: new Uint8Array(row.event),
    columns: {
      event_id: row.event_id,
      type: row.type,
      time_ms: int8(row.time_ms),
      message_id: row.message_id,
      sender: row.sender,
      topic: row.topic,
    },
  };
}
