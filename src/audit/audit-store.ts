import type { AuditCheckpoint } from './audit-checkpoint.js';
import { SealpostError, type ErrorCodeTable } from '../errors.js';
import type { MetadataEvent } from '../events/metadata-event.js';
import { indexedColumnsOf, type StoredAuditEntry } from './verify-audit-log.js';

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

/** Filters for `query`; all optional, combined with AND. */
export interface AuditQuery {
  readonly messageId?: string;
  readonly sender?: string;
  readonly topic?: string;
  readonly type?: string;
  readonly fromMs?: number;
  readonly toMs?: number;
  readonly limit?: number;
  /** Entries with index greater than this (for tail). */
  readonly afterIndex?: number;
}

export interface StoredAuditEvent {
  readonly index: number;
  readonly event: MetadataEvent;
}

/**
 * Where the audit log lives. Append-only: nothing in sealpost updates or deletes an entry. The port is
 * asynchronous so that a server-backed store fits it: SQLite is the embedded default
 * (sqlite-audit-store.ts), PostgreSQL the shared one (postgres-audit-store.ts; docs/STORES.md).
 */
export interface AuditStore {
  /**
   * Appends the events whose eventId is not yet in the log, in order, chaining each to the head, in
   * one transaction. Returns how many were appended (redelivered events are skipped, also when
   * another writer of the same store appended them first).
   */
  append(events: readonly MetadataEvent[]): Promise<number>;
  /** Entry count and head hash (the genesis hash when empty), as stored now. */
  head(): Promise<{ count: number; headHash: Uint8Array }>;
  /**
   * Every entry in stored order, read page by page (no cursor stays open between pages); with
   * `fromIndex`, those from that index on. Entries carry the indexed columns the store keeps.
   */
  entries(fromIndex?: number): AsyncIterableIterator<StoredAuditEntry>;
  addCheckpoint(checkpoint: AuditCheckpoint): Promise<void>;
  checkpoints(): Promise<AuditCheckpoint[]>;
  query(filter: AuditQuery): Promise<StoredAuditEvent[]>;
  close(): Promise<void>;
}

/** The row limit of a query: `limit` (default 1,000) clamped to 1..100,000. */
export function auditQueryLimit(filter: AuditQuery): number {
  return Math.min(Math.max(filter.limit ?? 1000, 1), 100_000);
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

/**
 * The stored events of rows the columns narrowed to, that match `filter`. The columns are not
 * chained (`audit verify` compares them with the event): the chained event decides what matches.
 */
export function matchingEvents(
  rows: readonly { idx: number; event: Uint8Array }[],
  filter: AuditQuery,
): StoredAuditEvent[] {
  return rows.flatMap((r) => {
    let event: MetadataEvent;
    try {
      event = JSON.parse(Buffer.from(r.event).toString('utf8')) as MetadataEvent;
    } catch {
      throw new AuditStoreError('AUDIT_STORE_CORRUPT', `entry ${r.idx} is not valid JSON`);
    }
    return matches(event, filter) ? [{ index: r.idx, event }] : [];
  });
}
