import type { AuditCheckpoint } from './audit-checkpoint.js';
import type { AuditEntry } from './audit-chain.js';
import type { MetadataEvent } from '../events/metadata-event.js';

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
 * Where the audit log lives. Append-only: nothing in sealpost updates or deletes an entry. SQLite is
 * the embedded default (sqlite-audit-store.ts); a PostgreSQL store can implement the same interface.
 */
export interface AuditStore {
  /**
   * Appends the events whose eventId is not yet in the log, in order, chaining each to the head, in
   * one transaction. Returns how many were appended (redelivered events are skipped).
   */
  append(events: readonly MetadataEvent[]): number;
  /** Entry count and head hash (the genesis hash when empty). */
  head(): { count: number; headHash: Uint8Array };
  /** Every entry in stored order, lazily; with `fromIndex`, those from that index on. */
  entries(fromIndex?: number): IterableIterator<AuditEntry>;
  addCheckpoint(checkpoint: AuditCheckpoint): void;
  checkpoints(): AuditCheckpoint[];
  query(filter: AuditQuery): StoredAuditEvent[];
  close(): void;
}
