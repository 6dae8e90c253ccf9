/**
 * The consumer's state of each partition it holds (docs/SPEC.md §6; docs/API.md "Replay state: what
 * it guarantees", "Redelivery hint"): loaded on every assignment (replay windows, entity versions,
 * the hand-out mark, the commit it belongs to) before the partition is fetched, written in the
 * background (the sealed state record, then the offset commit pointing to it), the hand-out mark kept
 * ahead of the records handed out, and released when the partition is revoked.
 *
 * It knows nothing of opening records or of batches: the record processor asks for the hand-out
 * mark before a hand-out, the batch loop reports fetches and processed offsets. Collaborators (the
 * state store, the transport consumer and admin, the admission hook) are passed in.
 */
import type { OpenHooks } from '../../envelope/envelope-opener.js';
import { OpenedBodyScratch } from '../../envelope/opened-body-scratch.js';
import type {
  ConsumedRecord,
  TopicPartition,
  TransportAdmin,
  TransportConsumer,
} from '../../kafka/transport.js';
import type { Clock } from '../../runtime/clock.js';
import { describeError, type PipelineLogger } from '../pipeline-logger.js';
import type { PipelineMetrics } from '../pipeline-metrics.js';
import type { PartitionReplayState, ReplayStateStore } from '../replay-state-store.js';
import { backoffDelayMs } from './backoff.js';

/** What one partition's state holds (the record processor keeps its per-offset notes here too). */
export interface PartitionEntry {
  readonly topic: string;
  readonly partition: number;
  /** The `topic\0partition` key of this partition (admission buckets, backoff). */
  readonly key: string;
  status: 'loading' | 'ready' | 'refused';
  /** Held before this assignment: its in-memory state may be kept if the commit is still ours. */
  reusable: boolean;
  /** The commit metadata of our last successful commit. */
  lastMetadata: string | null;
  state: PartitionReplayState;
  /** Offsets processed since the last successful commit. */
  dirty: boolean;
  /** Serialises state writes and commits. */
  persisting: Promise<void>;
  /** A persist queued behind the running one and not started yet (it will capture the newest state). */
  queuedPersist: Promise<void> | undefined;
  /** First time an unknown sender was seen at an offset (bounded wait). */
  readonly unknownSince: Map<string, number>;
  /** Unclassified failures per offset (bounded). */
  readonly unexpected: Map<string, number>;
  /** The batch in hand's check that the partition may be gone (member fenced, or stopping). */
  stale?: (() => boolean) | undefined;
  /** Offsets handed to the handler before (redelivery hint), bounded. */
  readonly attempted: Map<string, number>;
  /** The hand-out mark of the state we loaded: offsets below it may have been handed out before. */
  redeliverBelow: bigint | null;
  /** The newest hand-out mark known to be in the state topic and committed (the in-memory one may lead it). */
  persistedMark: bigint | null;
  /** The offset of the last record handed to the handler by this member. */
  lastHandedOut: bigint | null;
  /** Records handed to the handler by this member (drives the adaptive mark lead). */
  handedOut: number;
  /**
   * How far the next mark is put past the last record handed out: adapted to what is handed out
   * while one state write is in flight (see #adaptLead), between MIN_MARK_LEAD and the largest lead.
   */
  lead: number;
  /** The opener's hooks for this partition (made once, not per record). */
  readonly hooks: OpenHooks;
  /**
   * The memory this partition's records are opened into, one record at a time (held from the open
   * until the batch loop releases it after the record's outcome).
   */
  readonly openedBody: OpenedBodyScratch;
  /** `hooks` with `openedBody`: for ordinary records (a quarantine release opens with `hooks`). */
  readonly recordHooks: OpenHooks;
  /** Offsets below `below` were in the partition at `atMs` (the first fetch that covered them). */
  seenMark: { readonly below: bigint; readonly atMs: number } | undefined;
  /** When the batch in hand was fetched (records in it were written before). */
  batchSeenMs: number;
  /** The offset whose missing recipient key was alerted (one alert per stuck record). */
  keyMissingAlerted: string | null;
}

/** The consumer's one topic-partition key. */
export const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** The smallest hand-out mark lead (capped by the largest, `redeliveryMarkAhead`). */
export const MIN_MARK_LEAD = 64;

/** The replay state store as the partition state uses it. */
export type PartitionStateStore = Pick<ReplayStateStore, 'scan' | 'load' | 'write'>;

/** The transport consumer as the partition state uses it (the current one: it changes on a restart). */
export type PartitionConsumer = Pick<
  TransportConsumer,
  'pause' | 'resume' | 'seek' | 'commitOffsets'
>;

export interface PartitionStatesOptions {
  readonly store: PartitionStateStore;
  /** The current transport consumer. */
  readonly consumer: () => PartitionConsumer;
  /** A new admin client (committed offsets and high watermarks at load). */
  readonly admin: () => TransportAdmin;
  readonly groupId: string;
  readonly clock: Clock;
  readonly logger: PipelineLogger;
  readonly metrics?: PipelineMetrics;
  readonly onAlert?: (alert: {
    readonly topic: string;
    readonly partition: number;
    readonly code: string;
  }) => void;
  readonly replayStatePolicy: 'pause' | 'rebuild';
  /** `redeliveryMarkAhead`. */
  readonly maxMarkLead: number;
  /** Replay windows idle this long are freed (the opener's horizon). */
  readonly horizonMs: number;
  readonly windowIdleShrinkMs: number;
  readonly maxRetryDelayMs: number;
  /** The opener's admission hook for a partition: false → the record is throttled. */
  readonly admit: (key: string) => boolean;
  /** A partition was revoked. */
  readonly released: (topic: string, partition: number) => void;
  /** False before run() and once closed: loads stop and nothing is resumed. */
  readonly running: () => boolean;
  /** True once close() began: the hand-out mark is no longer moved ahead. */
  readonly closing: () => boolean;
}

/**
 * The state of a partition just assigned, before its replay state is loaded; `admit` is the opener's
 * admission hook for it (keyed by the partition's key).
 */
export function newPartitionEntry(
  at: TopicPartition,
  o: Pick<PartitionStatesOptions, 'maxMarkLead' | 'admit'>,
): PartitionEntry {
  const key = tpKey(at.topic, at.partition);
  const hooks: OpenHooks = {
    window: (k) => entry.state.windows.get(k),
    admit: () => o.admit(key),
  };
  const openedBody = new OpenedBodyScratch();
  const entry: PartitionEntry = {
    topic: at.topic,
    partition: at.partition,
    key,
    status: 'loading',
    reusable: false,
    lastMetadata: null,
    state: {
      generation: 0,
      nextOffset: null,
      windows: new Map(),
      entityVersions: new Map(),
      handOutMark: null,
    },
    dirty: false,
    persisting: Promise.resolve(),
    queuedPersist: undefined,
    unknownSince: new Map(),
    unexpected: new Map(),
    attempted: new Map(),
    redeliverBelow: null,
    persistedMark: null,
    lastHandedOut: null,
    handedOut: 0,
    lead: Math.min(o.maxMarkLead, 2 * MIN_MARK_LEAD),
    seenMark: undefined,
    batchSeenMs: 0,
    keyMissingAlerted: null,
    hooks,
    openedBody,
    recordHooks: { ...hooks, body: openedBody },
  };
  return entry;
}

/** See the module comment. */
export class PartitionStates {
  readonly #o: PartitionStatesOptions;
  readonly #partitions = new Map<string, PartitionEntry>();

  constructor(options: PartitionStatesOptions) {
    this.#o = options;
  }

  get(topic: string, partition: number): PartitionEntry | undefined {
    return this.#partitions.get(tpKey(topic, partition));
  }

  entries(): IterableIterator<PartitionEntry> {
    return this.#partitions.values();
  }

  /** Partitions held paused because their replay state was refused (operator attention needed). */
  refused(): TopicPartition[] {
    return [...this.#partitions.values()]
      .filter((p) => p.status === 'refused')
      .map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /**
   * Every assignment (re)loads its partitions' replay state before they are fetched: they are paused
   * now and resumed by the load. A partition we held before keeps its in-memory state only if the
   * group's commit is still the one we made (no other member processed it meanwhile); otherwise it
   * is loaded from the state topic. Partitions no longer assigned are released.
   */
  assign(assignment: readonly TopicPartition[]): void {
    const assigned = new Set(assignment.map((a) => tpKey(a.topic, a.partition)));
    for (const [k, p] of [...this.#partitions]) {
      if (assigned.has(k)) continue;
      this.#partitions.delete(k);
      this.#o.released(p.topic, p.partition);
    }
    if (assignment.length === 0) return;
    for (const at of assignment) {
      const existing = this.get(at.topic, at.partition);
      if (existing !== undefined && existing.status === 'ready') {
        existing.status = 'loading';
        existing.reusable = true;
        continue;
      }
      const entry = newPartitionEntry(at, this.#o);
      this.#partitions.set(entry.key, entry);
    }
    this.#o.consumer().pause(assignment);
    void this.load(assignment, 0);
  }

  /**
   * Loads the replay state of `parts` (after any write of theirs in flight), seeks each to the offset
   * its state belongs to and resumes the ready ones; a refused state holds its partition paused and
   * alerts. A KMS, broker or state topic outage retries with backoff. Resolves when this attempt ends.
   * A partition is loaded only into the entry it had when the load began (`owned`): a newer
   * assignment that replaced the entry meanwhile runs its own load, and an older load finishing after
   * records were handed out must not put back the state from before them (nor resume the partition).
   */
  async load(
    parts: readonly TopicPartition[],
    attempt: number,
    owned: ReadonlyMap<string, PartitionEntry | undefined> = new Map(
      parts.map((at) => [tpKey(at.topic, at.partition), this.get(at.topic, at.partition)]),
    ),
  ): Promise<void> {
    const o = this.#o;
    try {
      for (const at of parts) await this.get(at.topic, at.partition)?.persisting;
      const admin = o.admin();
      await admin.connect();
      let committed;
      // The high watermarks now: the previous owner of a partition lost it before this load, so it
      // can only have handed out records below them (caps the redelivery hint of the loaded mark).
      const written = new Map<string, bigint>();
      try {
        const topics = [...new Set(parts.map((p) => p.topic))];
        committed = await admin.fetchCommittedOffsets(o.groupId, topics);
        for (const topic of topics)
          for (const p of await admin.fetchTopicOffsets(topic))
            written.set(tpKey(topic, p.partition), BigInt(p.high));
      } finally {
        await admin.disconnect();
      }
      const commitOf = (at: TopicPartition) =>
        committed.find((x) => x.topic === at.topic && x.partition === at.partition) ?? {
          offset: '-1',
          metadata: null,
        };
      const reuse = (at: TopicPartition): boolean => {
        const e = this.get(at.topic, at.partition);
        const c = commitOf(at);
        return (
          e !== undefined &&
          e.reusable &&
          !e.dirty &&
          e.lastMetadata !== null &&
          e.lastMetadata === c.metadata &&
          e.state.nextOffset?.toString() === c.offset
        );
      };
      // Only what the commits of the partitions to load point to (docs/SPEC.md §6).
      const needs = parts
        .filter((at) => !reuse(at))
        .map((at) => ({ ...at, committed: commitOf(at) }));
      if (needs.length > 0) await o.store.scan(needs);
      const ready: TopicPartition[] = [];
      for (const at of parts) {
        const entry = this.get(at.topic, at.partition);
        if (entry === undefined || entry !== owned.get(entry.key) || !o.running()) continue;
        if (reuse(at)) {
          entry.status = 'ready';
          entry.reusable = false;
          ready.push(at);
          continue;
        }
        entry.reusable = false;
        const c = commitOf(at);
        const outcome = o.store.load(at.topic, at.partition, c, o.replayStatePolicy);
        if (outcome.kind === 'refused') {
          entry.status = 'refused';
          o.logger.error(
            { topic: at.topic, partition: at.partition, code: outcome.error.code },
            'replay state refused; partition held paused',
          );
          o.onAlert?.({ topic: at.topic, partition: at.partition, code: outcome.error.code });
          continue;
        }
        if (outcome.kind === 'rebuilt') {
          o.logger.warn(
            { topic: at.topic, partition: at.partition },
            'replay state rebuilt by policy',
          );
          o.onAlert?.({ topic: at.topic, partition: at.partition, code: 'REPLAY_STATE_REBUILT' });
        }
        if (outcome.kind === 'loaded' && outcome.state.nextOffset !== null) {
          // Fetch exactly from the offset the loaded state belongs to.
          try {
            o.consumer().seek(at, outcome.state.nextOffset.toString());
          } catch (err) {
            o.logger.warn(
              { err: describeError(err), topic: at.topic, partition: at.partition },
              'seek after loading replay state failed',
            );
          }
        }
        entry.state = outcome.state;
        const loadedMark = outcome.kind === 'loaded' ? outcome.state.handOutMark : null;
        const high = written.get(tpKey(at.topic, at.partition));
        entry.redeliverBelow =
          loadedMark !== null && high !== undefined && high < loadedMark ? high : loadedMark;
        entry.persistedMark = outcome.state.handOutMark;
        entry.lastHandedOut = null;
        entry.lastMetadata = c.metadata;
        entry.dirty = false;
        entry.status = 'ready';
        ready.push(at);
      }
      if (ready.length > 0 && o.running()) o.consumer().resume(ready);
    } catch (err) {
      // KMS, broker or state topic unavailable: keep the partitions paused and try again.
      const delay = backoffDelayMs(attempt + 1, 500, o.maxRetryDelayMs);
      o.logger.warn(
        { err: describeError(err), delayMs: delay },
        'loading replay state failed; retrying',
      );
      o.metrics?.transientRetries.inc({ reason: 'replay-state-load' });
      if (!o.running()) return;
      setTimeout(() => void this.load(parts, attempt + 1, owned), delay).unref();
    }
  }

  /** A fetch of `entry` is in hand: what it proves about when its records were written. */
  fetched(entry: PartitionEntry, highWatermark: string): void {
    entry.batchSeenMs = this.#o.clock.nowMs();
    if (
      entry.seenMark === undefined ||
      (entry.state.nextOffset !== null && entry.state.nextOffset >= entry.seenMark.below)
    )
      entry.seenMark = { below: BigInt(highWatermark), atMs: entry.batchSeenMs };
  }

  /** A time the record was certainly written before: when the first fetch that held it was handled. */
  writtenBeforeMs(record: ConsumedRecord, entry: PartitionEntry): number {
    const mark = entry.seenMark;
    return mark !== undefined && BigInt(record.offset) < mark.below ? mark.atMs : entry.batchSeenMs;
  }

  /** The record at `offset` is decided (handed out, dead-lettered or skipped): the offset may move past it. */
  processed(entry: PartitionEntry, offset: bigint): void {
    entry.state.nextOffset = offset + 1n;
    entry.dirty = true;
  }

  /**
   * Called before the record at `offset` is handed out: makes sure a persisted hand-out mark lies
   * beyond it, so whoever loads this state after a crash can tell which records may have been handed
   * out already (redelivery hint). Waits for a write in flight that carries the mark past it, or
   * writes the mark now; with half the lead left, moves the mark on in the background. Rejects (the
   * mark restored) when the mark could not be written: the record must not go out then. Answers
   * undefined, not a promise, when the persisted mark already lies beyond the record (nearly every
   * record: no promise and no microtask per record).
   */
  beforeHandOut(entry: PartitionEntry, offset: bigint): Promise<void> | undefined {
    if (entry.persistedMark === null || offset >= entry.persistedMark)
      return this.#markAhead(entry, offset);
    this.#handedOutBelow(entry, entry.persistedMark, offset);
    return undefined;
  }

  /** A hand-out below the persisted `mark`: counted, and the mark moved on at half the lead. */
  #handedOutBelow(entry: PartitionEntry, mark: bigint, offset: bigint): void {
    if (entry.queuedPersist === undefined && mark - offset <= BigInt(entry.lead >> 1)) {
      // Half the lead left: move the mark on in the background before the hand-outs reach it.
      entry.dirty = true;
      this.persistBehind(entry);
    }
    entry.lastHandedOut = offset;
    entry.handedOut++;
  }

  /**
   * beforeHandOut for a record at or beyond the persisted mark (the mark is written or awaited
   * first; a write in flight may carry it past the record meanwhile).
   */
  async #markAhead(entry: PartitionEntry, offset: bigint): Promise<void> {
    // A persist in flight may already carry the mark past this offset: wait for it, not write again.
    // Reaching the persisted mark means the lead was too short for the pace of hand-outs: double it.
    if (entry.persistedMark !== null && offset >= entry.persistedMark)
      entry.lead = Math.min(this.#o.maxMarkLead, entry.lead * 2);
    if (
      (entry.persistedMark === null || offset >= entry.persistedMark) &&
      entry.state.handOutMark !== null &&
      offset < entry.state.handOutMark
    )
      await entry.persisting;
    if (entry.persistedMark === null || offset >= entry.persistedMark) {
      const before = entry.state.handOutMark;
      const mark = offset + BigInt(entry.lead);
      entry.state.handOutMark = mark;
      if (entry.state.nextOffset === null) entry.state.nextOffset = offset;
      entry.dirty = true;
      try {
        await this.persist(entry);
      } catch (err) {
        // Not persisted: the record must not go out under a mark nobody can read back.
        if (entry.state.handOutMark === mark) entry.state.handOutMark = before;
        throw err;
      }
      entry.lastHandedOut = offset;
      entry.handedOut++;
    } else this.#handedOutBelow(entry, entry.persistedMark, offset);
  }

  /** Whether the record at `offset` may have been handed out by the partition's previous owner. */
  belowLoadedMark(entry: PartitionEntry, offset: bigint): boolean {
    return entry.redeliverBelow !== null && offset < entry.redeliverBelow;
  }

  /**
   * Starts a state write + commit without waiting for it: the broker round trips (state record
   * acks=all, then the offset commit) overlap the next records, fetches and batches instead of
   * stalling them; `persist` keeps at most one running and one queued per partition. Safety is
   * unchanged: a persist captures the state and the next offset at one instant, and a record's seq is
   * marked only after its handler succeeded, so a crash redelivers only records whose offsets were not
   * yet committed, and the replay windows never claim an unhandled record. What may run ahead of the
   * written state is bounded by the hand-out mark (see `redeliveryMarkAhead`): a record at or beyond
   * the persisted mark waits for the write in flight.
   */
  persistBehind(entry: PartitionEntry): void {
    this.persist(entry).catch(() => undefined);
  }

  /** Writes the replay state record, then commits the offset pointing to it (serialised per partition). */
  persist(entry: PartitionEntry): Promise<void> {
    // Coalesce: one not-yet-started persist covers every caller (it captures the newest state).
    if (entry.queuedPersist !== undefined) return entry.queuedPersist;
    const run = entry.persisting.then(async () => {
      entry.queuedPersist = undefined;
      // A revoked partition is another member's now: neither its state nor its offset is ours to
      // write (a fenced member's late commit would rewind the new owner's offset).
      const owned = () => this.#partitions.get(entry.key) === entry;
      if (!entry.dirty || entry.state.nextOffset === null || !owned()) return;
      const next = entry.state.nextOffset;
      this.#gcWindows(entry);
      // Every write carries the hand-out mark forward too (to the lead past the last record handed
      // out), so a consumer whose writes keep up never stops to write the mark alone.
      if (!this.#o.closing() && entry.lastHandedOut !== null && entry.state.handOutMark !== null) {
        const ahead = entry.lastHandedOut + BigInt(entry.lead);
        if (ahead > entry.state.handOutMark) entry.state.handOutMark = ahead;
      }
      const handedBefore = entry.handedOut;
      // write() encodes synchronously: the mark captured here is the one persisted.
      const state = entry.state;
      const mark = state.handOutMark;
      const { generation, metadata } = await this.#o.store.write(
        entry.topic,
        entry.partition,
        state,
        next,
      );
      if (!owned()) return;
      await this.#o
        .consumer()
        .commitOffsets([
          { topic: entry.topic, partition: entry.partition, offset: next.toString(), metadata },
        ]);
      // A reload (new assignment) replaced the state meanwhile: it decides from the commit it read.
      if (entry.state !== state) return;
      state.generation = generation;
      entry.lastMetadata = metadata;
      entry.persistedMark = mark;
      this.#adaptLead(entry, entry.handedOut - handedBefore);
      // Still dirty if the offset or the hand-out mark moved while this write was in flight.
      if (state.nextOffset === next && state.handOutMark === mark) entry.dirty = false;
    });
    entry.queuedPersist = run;
    entry.persisting = run.catch((err: unknown) => {
      this.#o.logger.warn(
        { err: describeError(err), topic: entry.topic, partition: entry.partition },
        'replay state or commit failed; will retry',
      );
    });
    return run;
  }

  /** Offsets processed but not yet committed (a failed commit) are written again in the background. */
  flushDirty(): void {
    for (const p of this.#partitions.values())
      if (p.dirty && p.status === 'ready') void this.persist(p).catch(() => undefined);
  }

  /**
   * The last writes of a clean close (after the batch in hand finished): each mark is lowered as far
   * as is true — past the committed offset, every record this member handed out (a handler that
   * threw leaves its record uncommitted) and every record the previous owner may have handed out (the
   * mark we loaded) — then written, and every write in flight is awaited. After a clean close only
   * those stay flagged.
   */
  async closeWrites(): Promise<void> {
    for (const p of this.#partitions.values()) {
      if (p.status !== 'ready' || p.state.nextOffset === null || p.state.handOutMark === null)
        continue;
      const floor = closingMarkFloor(p);
      if (p.state.handOutMark <= floor) continue;
      p.state.handOutMark = floor;
      p.dirty = true;
    }
    for (const p of this.#partitions.values()) {
      if (p.status === 'ready' && p.dirty) await this.persist(p).catch(() => undefined);
      // Background writes still in flight finish while the consumer can still commit.
      await p.persisting;
    }
  }

  /**
   * The mark's lead follows the pace of hand-outs: a write starts when half the lead is left, and
   * the one queued behind it may have to wait for it, so 4× the records handed out during one write
   * keeps the hand-outs from reaching the mark (reaching it doubles the lead). It shrinks by at most
   * half per write. A small lead is what keeps the redelivery hint precise after a crash: only records
   * below the persisted mark are flagged, and at most the lead of them were never handed out.
   */
  #adaptLead(entry: PartitionEntry, handedDuringWrite: number): void {
    const target = Math.max(MIN_MARK_LEAD, 4 * handedDuringWrite);
    entry.lead = Math.min(this.#o.maxMarkLead, Math.max(target, entry.lead >> 1));
  }

  #gcWindows(entry: PartitionEntry): void {
    const now = this.#o.clock.nowMs();
    for (const [k, w] of entry.state.windows) {
      if (w.isIdle(now, this.#o.horizonMs)) entry.state.windows.delete(k);
      else if (!w.shrunk && w.isIdle(now, this.#o.windowIdleShrinkMs)) w.shrink();
    }
  }
}

/**
 * The lowest hand-out mark a clean close may persist: no record handed out and not committed, by
 * this member or (per the mark it loaded) by the previous owner, may fall below it (the redelivery
 * hint is never false for such a record).
 */
function closingMarkFloor(p: PartitionEntry): bigint {
  let floor = p.state.nextOffset ?? 0n;
  if (p.redeliverBelow !== null && p.redeliverBelow > floor) floor = p.redeliverBelow;
  if (p.lastHandedOut !== null && p.lastHandedOut + 1n > floor) floor = p.lastHandedOut + 1n;
  return floor;
}
