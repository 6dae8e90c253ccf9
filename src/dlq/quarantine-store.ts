/**
 * Where quarantined dead letters live. The port is asynchronous: the embedded default is SQLite
 * (sqlite-quarantine-store.ts), the shared store PostgreSQL (postgres-quarantine-store.ts;
 * docs/STORES.md). Nothing here ever decrypts: entries hold the
 * original sealed bytes and the metadata the consumer attached.
 */
import { COARSE_CLASSES } from '../events/dead-letter.js';

export type QuarantineStatus = 'quarantined' | 'released';

/**
 * Why a record is in quarantine: a dead letter's coarse class, or `unrecognised` for records on the
 * dead-letter topic that are not sealpost dead letters.
 */
export const QUARANTINE_REASONS = [...COARSE_CLASSES, 'unrecognised'] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];

export interface QuarantineHeader {
  readonly key: string;
  /** Base64 of the header value bytes; null for a header without a value. */
  readonly value: string | null;
}

export interface NewQuarantineEntry {
  /** Where the dead letter was read: the idempotency key of the store. */
  readonly dlqTopic: string;
  readonly dlqPartition: number;
  readonly dlqOffset: string;
  readonly reason: QuarantineReason;
  readonly sourceTopic: string | null;
  readonly sourcePartition: number | null;
  readonly sourceOffset: string | null;
  readonly sourceTimestamp: string | null;
  readonly consumerGroup: string | null;
  readonly consumer: string | null;
  readonly attempt: number | null;
  /** The original record, byte-exact. */
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  /** The original headers in order (without the dead-letter metadata header). */
  readonly headers: readonly QuarantineHeader[];
  /** Hex BLAKE2b-256 of the value. */
  readonly valueHash: string;
  /** Whether the consumer's signature on the dead-letter metadata verified. */
  readonly signatureVerified: boolean;
  readonly arrivedAtMs: number;
}

export interface QuarantineEntry extends NewQuarantineEntry {
  readonly id: number;
  /**
   * The released entry this one came back from: the same record (value digest) dead-lettered again
   * by the same group after it was released to its source topic — its cause was not fixed. Its
   * `attempt` is then that entry's attempt + 1. Null for a first quarantine.
   */
  readonly requarantinedFrom: number | null;
  readonly status: QuarantineStatus;
  readonly releasedAtMs: number | null;
  readonly releasedTo: string | null;
  /** Who released it, when the caller said (the console records its operator; docs/CONSOLE.md). */
  readonly releasedBy: string | null;
}

export interface QuarantineFilter {
  readonly reason?: QuarantineReason;
  readonly sourceTopic?: string;
  /** Only entries from this source partition. */
  readonly sourcePartition?: number;
  readonly status?: QuarantineStatus;
  /** Only entries with a greater id (to page through a long listing). */
  readonly afterId?: number;
  /** Only entries that arrived before this time (for "older than"). */
  readonly arrivedBeforeMs?: number;
  readonly limit?: number;
}

/** One bucket of {@link QuarantineStore.arrivalsByReason}. */
export interface ArrivalBucket {
  readonly bucket: number;
  readonly reason: string;
  readonly count: number;
}

export interface QuarantineStore {
  /**
   * Stores the entries whose dead-letter coordinates (and source coordinates with group) are not
   * stored yet, in one transaction, linking one that came back after a release to the released entry
   * (see `requarantinedFrom`). Returns the number newly stored.
   */
  add(entries: readonly NewQuarantineEntry[]): Promise<number>;
  get(id: number): Promise<QuarantineEntry | undefined>;
  list(filter: QuarantineFilter): Promise<QuarantineEntry[]>;
  /**
   * Marks an entry released (by `by`, when given); returns false if it was released already (release
   * is idempotent).
   */
  markReleased(id: number, to: string, atMs: number, by?: string): Promise<boolean>;
  /** Deletes entries (and their bytes); returns how many. */
  purge(ids: readonly number[]): Promise<number>;
  /** Entries still quarantined, by reason. */
  countsByReason(): Promise<Record<string, number>>;
  /**
   * Entries stored (quarantined or released) that arrived at or after `fromMs`, counted by reason per
   * `bucketMs`-wide bucket (bucket 0 starts at `fromMs`); buckets without entries are absent.
   */
  arrivalsByReason(range: { fromMs: number; bucketMs: number }): Promise<ArrivalBucket[]>;
  /** Totals over the store's life: entries released, and entries purged. */
  totals(): Promise<{ released: number; purged: number }>;
  oldestArrivalMs(): Promise<number | null>;
  close(): Promise<void>;
}
