import Database from 'better-sqlite3';
import type { CryptoProvider } from '../crypto/provider.js';
import {
  canonicalEventBytes,
  validateMetadataEvent,
  type MetadataEvent,
} from '../events/metadata-event.js';
import { SealpostError, type ErrorCodeTable } from '../errors.js';
import type { AuditCheckpoint } from './audit-checkpoint.js';
import { genesisHash, nextEntry } from './audit-chain.js';
import type { AuditQuery, AuditStore, StoredAuditEvent } from './audit-store.js';
import {
  indexedColumnsOf,
  type IndexedColumns,
  type StoredAuditEntry,
} from './verify-audit-log.js';

export const AUDIT_STORE_ERROR_CODES = {
  AUDIT_STORE_CORRUPT: 'no',
  AUDIT_EVENT_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type AuditStoreErrorCode = keyof typeof AUDIT_STORE_ERROR_CODES;

export class AuditStoreError extends SealpostError {
  declare readonly code: AuditStoreErrorCode;
  constructor(code: AuditStoreErrorCode, message: string) {
    super(code, message, { retriable: false });
  }
}

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

/** Whether a (chained) event matches the filter: the columns only narrow, the event decides. */
function matches(e: MetadataEvent, f: AuditQuery): boolean {
  const c = indexedColumnsOf(e);
  return (
    (f.messageId === undefined || c.message_id === f.messageId) &&
    (f.sender === undefined || c.sender === f.sender) &&
    (f.topic === undefined || c.topic === f.topic) &&
    (f.type === undefined || c.type === f.type) &&
    (f.fromMs === undefined || c.time_ms >= f.fromMs) &&
    (f.toMs === undefined || c.time_ms <= f.toMs)
  );
}

/** The embedded audit store: one SQLite file, WAL mode, a transaction per appended batch. */
export class SqliteAuditStore implements AuditStore {
  readonly #db: Database.Database;
  readonly #crypto: CryptoProvider;
  #head: { count: number; headHash: Uint8Array };

  /** Opens (or creates) the store at `path` (':memory:' for tests). */
  constructor(path: string, crypto: CryptoProvider) {
    this.#crypto = crypto;
    this.#db = new Database(path);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(SCHEMA);
    this.#head = this.#readHead();
  }

  #readHead(): { count: number; headHash: Uint8Array } {
    const last = this.#db
      .prepare('SELECT idx, entry_hash FROM entries ORDER BY idx DESC LIMIT 1')
      .get() as { idx: number; entry_hash: Buffer } | undefined;
    if (!last) return { count: 0, headHash: genesisHash(this.#crypto) };
    return { count: last.idx + 1, headHash: new Uint8Array(last.entry_hash) };
  }

  append(events: readonly MetadataEvent[]): number {
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
      return { appended, head };
    });
    const result = run(events);
    this.#head = result.head;
    return result.appended;
  }

  head(): { count: number; headHash: Uint8Array } {
    return { count: this.#head.count, headHash: new Uint8Array(this.#head.headHash) };
  }

  /** Every entry in stored order, with the indexed columns (verify checks them against the event). */
  *entries(fromIndex = 0): IterableIterator<StoredAuditEntry> {
    // From 0, every row whatever its idx (verify must see a row someone inserted out of range).
    const stmt = this.#db.prepare(
      `SELECT idx, prev_hash, entry_hash, event, event_id, type, time_ms, message_id, sender, topic FROM entries ${fromIndex > 0 ? 'WHERE idx >= ? ' : ''}ORDER BY rowid`,
    );
    const rows = fromIndex > 0 ? stmt.iterate(fromIndex) : stmt.iterate();
    for (const row of rows as IterableIterator<EntryRow>) {
      yield {
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
  }

  addCheckpoint(c: AuditCheckpoint): void {
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

  checkpoints(): AuditCheckpoint[] {
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

  query(filter: AuditQuery): StoredAuditEvent[] {
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
    const limit = Math.min(Math.max(filter.limit ?? 1000, 1), 100_000);
    const sql = `SELECT idx, event FROM entries ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY idx LIMIT ${limit}`;
    const rows = this.#db.prepare(sql).all(...args) as { idx: number; event: Buffer }[];
    return rows.flatMap((r) => {
      let event: MetadataEvent;
      try {
        event = JSON.parse(r.event.toString('utf8')) as MetadataEvent;
      } catch {
        throw new AuditStoreError('AUDIT_STORE_CORRUPT', `entry ${r.idx} is not valid JSON`);
      }
      // The columns are not chained (`audit verify` compares them with the event): the chained event
      // decides what matches.
      return matches(event, filter) ? [{ index: r.idx, event }] : [];
    });
  }

  close(): void {
    this.#db.close();
  }
}
