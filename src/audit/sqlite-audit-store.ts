import Database from 'better-sqlite3';
import type { CryptoProvider } from '../crypto/provider.js';
import {
  canonicalEventBytes,
  validateMetadataEvent,
  type MetadataEvent,
} from '../events/metadata-event.js';
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
import {
  indexedColumnsOf,
  type IndexedColumns,
  type StoredAuditEntry,
} from './verify-audit-log.js';

// The store's error class lives beside the port (both stores throw it); re-exported for importers.
export { AuditStoreError, type AuditStoreErrorCode } from './audit-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (
  idx        INTEGER PRIMARY KEY,
  event_id   TEXT NOT NULL UNIQUE,
  prev_hash  BLOB NOT NULL,
  entry_hash BLOB NOT NULL,
  event      BLOB NOT NULL,
  type       TEXT NOT NULL,
  time_ms    INTEGER NOT NULL,
  message_id TEXT,
  sender     TEXT,
  topic      TEXT
);
CREATE INDEX IF NOT EXISTS entries_message_id ON entries(message_id);
CREATE INDEX IF NOT EXISTS entries_sender ON entries(sender);
CREATE INDEX IF NOT EXISTS entries_topic ON entries(topic);
CREATE INDEX IF NOT EXISTS entries_time ON entries(time_ms);
CREATE TABLE IF NOT EXISTS checkpoints (
  count      INTEGER NOT NULL,
  head_hash  BLOB NOT NULL,
  time_ms    INTEGER NOT NULL,
  signer_kid BLOB NOT NULL,
  signature  BLOB NOT NULL
);
-- Defence in depth against accidents: sealpost itself never edits history. (Someone holding the
-- file can drop these triggers; the chain and the published checkpoints catch that.)
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

interface EntryRow extends IndexedColumns {
  idx: number;
  prev_hash: Buffer;
  entry_hash: Buffer;
  event: Buffer;
}

/** Rows per page of `entries` (no statement stays open across an await). */
const ENTRY_PAGE_ROWS = 1000;

/**
 * The embedded audit store: one SQLite file, WAL mode, a transaction per appended batch. One writer
 * process per file (docs/STORES.md); the asynchronous port is served by synchronous calls.
 */
export class SqliteAuditStore implements AuditStore {
  readonly #db: Database.Database;
  readonly #crypto: CryptoProvider;

  /** Opens (or creates) the store at `path` (':memory:' for tests). */
  constructor(path: string, crypto: CryptoProvider) {
    this.#crypto = crypto;
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(SCHEMA);
  }

  #readHead(): { count: number; headHash: Uint8Array } {
    const last = this.#db
      .prepare('SELECT idx, entry_hash FROM entries ORDER BY idx DESC LIMIT 1')
      .get() as { idx: number; entry_hash: Buffer } | undefined;
    if (!last) return { count: 0, headHash: genesisHash(this.#crypto) };
    return { count: last.idx + 1, headHash: new Uint8Array(last.entry_hash) };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async append(events: readonly MetadataEvent[]): Promise<number> {
    for (const e of events) {
      const problems = validateMetadataEvent(e);
      if (problems.length > 0) {
        throw new AuditStoreError('AUDIT_EVENT_INVALID', `invalid event: ${problems.join('; ')}`);
      }
    }
    const exists = this.#db.prepare('SELECT 1 FROM entries WHERE event_id = ?');
    const insert = this.#db.prepare(
      `INSERT INTO entries (idx, event_id, prev_hash, entry_hash, event, type, time_ms, message_id, sender, topic)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const run = this.#db.transaction((batch: readonly MetadataEvent[]) => {
      // Re-read the head inside the transaction: the store is the source of truth.
      let head = this.#readHead();
      let appended = 0;
      const seen = new Set<string>();
      for (const e of batch) {
        if (seen.has(e.eventId) || exists.get(e.eventId)) continue;
        seen.add(e.eventId);
        const entry = nextEntry(this.#crypto, head.count, head.headHash, canonicalEventBytes(e));
        const c = indexedColumnsOf(e);
        insert.run(
          entry.index,
          c.event_id,
          Buffer.from(entry.prevHash),
          Buffer.from(entry.entryHash),
          Buffer.from(entry.event),
          c.type,
          c.time_ms,
          c.message_id,
          c.sender,
          c.topic,
        );
        head = { count: head.count + 1, headHash: entry.entryHash };
        appended++;
      }
      return appended;
    });
    return run(events);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async head(): Promise<{ count: number; headHash: Uint8Array }> {
    return this.#readHead();
  }

  /** Every entry in stored order, with the indexed columns (verify checks them against the event). */
  async *entries(fromIndex = 0): AsyncIterableIterator<StoredAuditEntry> {
    // From 0, every row whatever its idx (verify must see a row someone inserted out of range). The
    // idx column is the rowid: pages follow it, the first page has no lower bound.
    const page = (bounded: boolean): Database.Statement =>
      this.#db.prepare(
        `SELECT idx, prev_hash, entry_hash, event, event_id, type, time_ms, message_id, sender, topic
           FROM entries WHERE ${bounded ? 'rowid > ?' : '1'} ${fromIndex > 0 ? 'AND idx >= ? ' : ''}ORDER BY rowid LIMIT ${ENTRY_PAGE_ROWS}`,
      );
    const first = page(false);
    const next = page(true);
    let after: number | undefined;
    for (;;) {
      const args = [...(after === undefined ? [] : [after]), ...(fromIndex > 0 ? [fromIndex] : [])];
      const rows = (after === undefined ? first : next).all(...args) as EntryRow[];
      for (const row of rows) yield entryOf(row);
      if (rows.length < ENTRY_PAGE_ROWS) return;
      after = rows[rows.length - 1]!.idx;
      await Promise.resolve();
    }
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async addCheckpoint(c: AuditCheckpoint): Promise<void> {
    this.#db
      .prepare(
        'INSERT INTO checkpoints (count, head_hash, time_ms, signer_kid, signature) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        c.count,
        Buffer.from(c.headHash),
        c.timeMs,
        Buffer.from(c.signerKid),
        Buffer.from(c.signature),
      );
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async checkpoints(): Promise<AuditCheckpoint[]> {
    const rows = this.#db
      .prepare(
        'SELECT count, head_hash, time_ms, signer_kid, signature FROM checkpoints ORDER BY rowid',
      )
      .all() as {
      count: number;
      head_hash: Buffer;
      time_ms: number;
      signer_kid: Buffer;
      signature: Buffer;
    }[];
    return rows.map((r) => ({
      count: r.count,
      headHash: new Uint8Array(r.head_hash),
      timeMs: r.time_ms,
      signerKid: new Uint8Array(r.signer_kid),
      signature: new Uint8Array(r.signature),
    }));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async query(filter: AuditQuery): Promise<StoredAuditEvent[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.messageId !== undefined) {
      where.push('message_id = ?');
      args.push(filter.messageId);
    }
    if (filter.sender !== undefined) {
      // Stores written before sealed events were indexed under their actor (their sender) kept no
      // sender for them: those rows are narrowed here and decided on the event below.
      where.push("(sender = ? OR (sender IS NULL AND type = 'sealed'))");
      args.push(filter.sender);
    }
    if (filter.topic !== undefined) {
      where.push('topic = ?');
      args.push(filter.topic);
    }
    if (filter.type !== undefined) {
      where.push('type = ?');
      args.push(filter.type);
    }
    if (filter.fromMs !== undefined) {
      where.push('time_ms >= ?');
      args.push(filter.fromMs);
    }
    if (filter.toMs !== undefined) {
      where.push('time_ms <= ?');
      args.push(filter.toMs);
    }
    if (filter.afterIndex !== undefined) {
      where.push('idx > ?');
      args.push(filter.afterIndex);
    }
    const limit = auditQueryLimit(filter);
    const sql = `SELECT idx, event FROM entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY idx LIMIT ${limit}`;
    const rows = this.#db.prepare(sql).all(...args) as { idx: number; event: Buffer }[];
    return matchingEvents(rows, filter);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the port is asynchronous
  async close(): Promise<void> {
    this.#db.close();
  }
}

/** A stored row as an entry, with its indexed columns. */
function entryOf(row: EntryRow): StoredAuditEntry {
  return {
    index: row.idx,
    prevHash: new Uint8Array(row.prev_hash),
    entryHash: new Uint8Array(row.entry_hash),
    event: new Uint8Array(row.event),
    columns: {
      event_id: row.event_id,
      type: row.type,
      time_ms: row.time_ms,
      message_id: row.message_id,
      sender: row.sender,
      topic: row.topic,
    },
  };
}
