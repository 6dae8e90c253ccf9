/**
 * The state of an in-memory Kafka cluster shared by every client made on it: topics with partition
 * logs, consumer groups with their members, generations and committed offsets (with metadata), ACL
 * bindings, and the faults a test injects (see the control methods). One single-broker "cluster" per
 * instance; no replication, no retention, no compaction (a compacted topic keeps every record, which
 * a reader of the whole log cannot tell from a log the cleaner has not reached yet).
 */
import { aclBindingKey, type AclBinding } from '../acl-binding.js';
import type {
  ConsumedRecord,
  OffsetCommit,
  TopicPartition,
  TopicSpec,
  TransportHeader,
} from '../transport.js';
import { TransportError } from '../transport-error.js';
import { realTimeScheduler, type Scheduler } from './scheduler.js';
import { batchBytes, type SizedRecord } from './batch-size.js';
import { systemClock } from '../../runtime/clock.js';

/** A record as the partition log stores it. */
interface StoredRecord {
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly TransportHeader[];
  readonly timestampMs: number;
}

interface TopicState {
  readonly name: string;
  readonly logs: StoredRecord[][];
  readonly configs: Readonly<Record<string, string>>;
}

/** What a group needs of a member (implemented by the in-memory consumer). */
export interface GroupMember {
  readonly memberId: string;
  /** Topics this member subscribed to. */
  subscribedTopics(): readonly string[];
  /** A new generation: the member adopts `assignment` before its next fetch. */
  rebalanced(generation: number, assignment: readonly TopicPartition[]): void;
  /** Something may be fetchable now (new records, broker back up). */
  wake(): void;
  /** The member's client was killed or crashed by a test. */
  crash(error: TransportError, willRestart: boolean): void;
  /**
   * The coordinator removed the member without its knowing (its session expired while it was frozen):
   * the batch in hand is stale, and the member rejoins — holding nothing first — when it notices.
   */
  fenced(): void;
  /** The process holding this member died: stop without a word (no listener runs). */
  kill(): void;
  /** True while the member holds no batch and waits for something to fetch. */
  isIdle(): boolean;
}

interface GroupState {
  readonly id: string;
  generation: number;
  readonly members: GroupMember[];
  readonly committed: Map<string, { offset: string; metadata: string | null }>;
}

/** One successful commit, in commit order (for tests' ledgers). */
export interface CommitLogEntry extends OffsetCommit {
  readonly groupId: string;
  readonly generation: number;
  readonly atMs: number;
}

/** A send failure queued by {@link InMemoryCluster.failNextSend}. */
interface SendFault {
  readonly error: TransportError;
  readonly topic: string | undefined;
  /** Append the records first, then fail (an acknowledgement lost on the way back). */
  readonly afterAppend: boolean;
}

interface CommitFault {
  readonly error: TransportError;
  readonly groupId: string | undefined;
}

/** Options of {@link InMemoryCluster}. */
export interface InMemoryClusterOptions {
  /** Time and delayed calls (scheduled resumes). Default: the system clock and Node timers. */
  readonly scheduler?: Scheduler;
  /** Upper bound of records in one fetched batch (besides `maxBytesPerPartition`). Default 500. */
  readonly maxBatchRecords?: number;
  /**
   * Called synchronously as each commit is stored, before anything else can run (a test's ledger
   * checks what was committed against what had been handed out at that instant).
   */
  readonly onCommit?: (entry: CommitLogEntry) => void;
}

/** The broker's default `offset.metadata.max.bytes`. */
const MAX_METADATA_BYTES = 4096;
/** The broker's default `max.message.bytes` (the bound of one record batch, batch-size.ts). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
/** The single broker's id (partition leader, replica and ISR). */
export const IN_MEMORY_BROKER_ID = 0;

const tpKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** See the module comment. */
export class InMemoryCluster {
  readonly scheduler: Scheduler;
  readonly maxBatchRecords: number;
  readonly #onCommit: ((entry: CommitLogEntry) => void) | undefined;
  readonly #topics = new Map<string, TopicState>();
  readonly #groups = new Map<string, GroupState>();
  readonly #acls = new Map<string, AclBinding>();
  readonly #commitLog: CommitLogEntry[] = [];
  readonly #sendFaults: SendFault[] = [];
  readonly #commitFaults: CommitFault[] = [];
  /** Members fenced by {@link fenceMember} that have not rejoined (or left) yet. */
  readonly #fenced = new Set<GroupMember>();
  #brokerDown = false;
  #inFlight = 0;
  #activity = 0;
  #memberSeq = 0;

  constructor(options: InMemoryClusterOptions = {}) {
    this.scheduler = options.scheduler ?? realTimeScheduler(systemClock);
    this.maxBatchRecords = Math.max(1, options.maxBatchRecords ?? 500);
    this.#onCommit = options.onCommit;
  }

  // -------------------------------------------------------------------------------------------------
  // Control: faults on demand

  /**
   * The next send (of a request to `topic`, or of any request) fails with `error` (default: a
   * retriable BROKER_BUSY). With `afterAppend` the records are written first and only the
   * acknowledgement is lost, as when a connection drops after the broker appended.
   */
  failNextSend(
    error?: TransportError,
    options: { readonly topic?: string; readonly afterAppend?: boolean } = {},
  ): void {
    this.#sendFaults.push({
      error:
        error ??
        new TransportError('BROKER_BUSY', 'produce failed (injected fault)', { retriable: true }),
      topic: options.topic,
      afterAppend: options.afterAppend ?? false,
    });
  }

  /** The next offset commit (of `groupId`, or of any group) fails with `error` (default BROKER_BUSY). */
  failNextCommit(error?: TransportError, options: { readonly groupId?: string } = {}): void {
    this.#commitFaults.push({
      error:
        error ??
        new TransportError('BROKER_BUSY', 'commit failed (injected fault)', { retriable: true }),
      groupId: options.groupId,
    });
  }

  /** While down every call fails with a retriable BROKER_UNAVAILABLE and nothing is fetched. */
  setBrokerDown(down: boolean): void {
    this.#brokerDown = down;
    if (!down) this.#wakeAll();
  }

  /**
   * Crashes every member of the group as kafkajs reports a crash: its `onCrash` listeners run with
   * `willRestart`; a member that will not restart stops and leaves the group; one that will restart
   * rejoins (a new generation for the whole group either way).
   */
  crashConsumer(
    groupId: string,
    options: { readonly error?: TransportError; readonly willRestart?: boolean } = {},
  ): void {
    const error =
      options.error ??
      new TransportError('TRANSPORT_FAILED', 'consumer crashed (injected fault)', {
        retriable: false,
      });
    for (const m of [...(this.#groups.get(groupId)?.members ?? [])])
      m.crash(error, options.willRestart ?? false);
  }

  /**
   * Fences one member of the group, as the coordinator does with a member it has not heard from for
   * its session timeout (a process frozen by SIGSTOP, a VM or GC stall; docs/OPERATIONS.md "Under
   * faults"): the others get a new generation without it at once; the member's batch in hand turns
   * stale (`isStale()`), its heartbeats and commits are refused with REBALANCE_IN_PROGRESS, and when
   * it notices it first drops its assignment (listeners see an empty one) and then rejoins, as the
   * kafkajs adapter does after a break in membership (src/kafka/membership-lease.ts). Returns false
   * when `memberId` is not a member of the group.
   */
  fenceMember(groupId: string, memberId: string): boolean {
    const g = this.#groups.get(groupId);
    const member = g?.members.find((m) => m.memberId === memberId);
    if (g === undefined || member === undefined) return false;
    g.members.splice(g.members.indexOf(member), 1);
    this.#fenced.add(member);
    member.fenced();
    this.#rebalance(g);
    return true;
  }

  /** Starts a new generation of the group now (as when a member joins or leaves). */
  rebalance(groupId: string): void {
    const g = this.#groups.get(groupId);
    if (g !== undefined) this.#rebalance(g);
  }

  // -------------------------------------------------------------------------------------------------
  // Inspection (for tests)

  /** The records of one partition, in offset order. */
  records(topic: string, partition: number): ConsumedRecord[] {
    const log = this.#topic(topic).logs[partition];
    if (log === undefined) throw new TransportError('TOPIC_NOT_FOUND', 'no such partition');
    return log.map((r) => this.#toConsumed(topic, partition, r));
  }

  /** Every successful commit of the group (or of all groups), in commit order. */
  commitLog(groupId?: string): readonly CommitLogEntry[] {
    return groupId === undefined
      ? [...this.#commitLog]
      : this.#commitLog.filter((c) => c.groupId === groupId);
  }

  /** The ids of the group's members (fenced ones are not members until they rejoin). */
  memberIds(groupId: string): string[] {
    return (this.#groups.get(groupId)?.members ?? []).map((m) => m.memberId);
  }

  /** The current generation of a group (0 before anyone joined). */
  generation(groupId: string): number {
    return this.#groups.get(groupId)?.generation ?? 0;
  }

  /**
   * True when no call is in flight and every live member waits for something to fetch (a paused
   * partition waits too). Together with {@link activity} a test can tell that everything settled.
   */
  isQuiet(): boolean {
    if (this.#inFlight > 0) return false;
    for (const g of this.#groups.values()) for (const m of g.members) if (!m.isIdle()) return false;
    // A fenced member still runs (it finishes its batch, then rejoins).
    for (const m of this.#fenced) if (!m.isIdle()) return false;
    return true;
  }

  /** A counter that grows with every call any client makes. */
  activity(): number {
    return this.#activity;
  }

  // -------------------------------------------------------------------------------------------------
  // The broker side of the clients' calls (used by the in-memory producer, consumer and admin)

  /** Runs one broker call: counted for {@link isQuiet}, refused while the broker is down. */
  async call<T>(what: string, run: () => T): Promise<T> {
    this.#activity++;
    this.#inFlight++;
    try {
      // A round trip: the caller never sees the result in the same tick.
      await Promise.resolve();
      if (this.#brokerDown)
        throw new TransportError('BROKER_UNAVAILABLE', `${what}: the broker is down`, {
          retriable: true,
        });
      return run();
    } finally {
      this.#inFlight--;
    }
  }

  get brokerDown(): boolean {
    return this.#brokerDown;
  }

  nextMemberId(clientId: string): string {
    return `${clientId}-${++this.#memberSeq}`;
  }

  append(
    requests: readonly {
      topic: string;
      partition: number;
      records: readonly {
        key: Buffer | null;
        value: Buffer | null;
        headers?: readonly TransportHeader[];
        timestampMs?: number;
      }[];
    }[],
    compression: 'none' | 'gzip' = 'none',
  ): bigint[] {
    // One batch per partition of the call, as a client sends them (the requests of a sendBatch to
    // one partition travel together), each measured as the broker would (batch-size.ts).
    const batches = new Map<string, { max: number; records: SizedRecord[] }>();
    for (const r of requests) {
      const t = this.#topic(r.topic);
      if (t.logs[r.partition] === undefined)
        throw new TransportError('TOPIC_NOT_FOUND', 'produce: no such partition', {
          retriable: true,
        });
      const key = tpKey(r.topic, r.partition);
      let batch = batches.get(key);
      if (batch === undefined) {
        const max = Number(t.configs['max.message.bytes'] ?? DEFAULT_MAX_MESSAGE_BYTES);
        batches.set(key, (batch = { max, records: [] }));
      }
      batch.records.push(...r.records);
    }
    for (const { max, records } of batches.values())
      if (batchBytes(records, compression, max) > max)
        throw new TransportError(
          'RECORD_TOO_LARGE',
          "produce: record batch larger than the topic's max.message.bytes",
        );
    const fault = this.#takeSendFault(requests.map((r) => r.topic));
    if (fault !== undefined && !fault.afterAppend) throw fault.error;
    const now = this.scheduler.nowMs();
    const bases = requests.map((r) => {
      const log = this.#topic(r.topic).logs[r.partition]!;
      const base = BigInt(log.length);
      for (const rec of r.records)
        log.push({
          offset: BigInt(log.length),
          // Copies: the broker keeps its own bytes whatever the producer does with its buffers.
          key: rec.key === null ? null : Buffer.from(rec.key),
          value: rec.value === null ? null : Buffer.from(rec.value),
          headers: (rec.headers ?? []).map((h) => ({
            key: h.key,
            value: h.value === null ? null : Buffer.from(h.value),
          })),
          timestampMs: rec.timestampMs ?? now,
        });
      return base;
    });
    this.#wakeAll();
    if (fault !== undefined) throw fault.error;
    return bases;
  }

  #takeSendFault(topics: readonly string[]): SendFault | undefined {
    const i = this.#sendFaults.findIndex((f) => f.topic === undefined || topics.includes(f.topic));
    return i < 0 ? undefined : this.#sendFaults.splice(i, 1)[0];
  }

  /** Records of a partition from `from`, at most `maxRecords` and about `maxBytes`, and the high watermark. */
  fetch(
    topic: string,
    partition: number,
    from: bigint,
    maxBytes: number,
  ): { records: ConsumedRecord[]; high: bigint } {
    const log = this.#topics.get(topic)?.logs[partition] ?? [];
    const records: ConsumedRecord[] = [];
    let bytes = 0;
    for (let o = from; o < BigInt(log.length) && records.length < this.maxBatchRecords; o++) {
      const r = log[Number(o)]!;
      const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
      if (records.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      records.push(this.#toConsumed(topic, partition, r));
    }
    return { records, high: BigInt(log.length) };
  }

  highWatermark(topic: string, partition: number): bigint {
    return BigInt(this.#topics.get(topic)?.logs[partition]?.length ?? 0);
  }

  #toConsumed(topic: string, partition: number, r: StoredRecord): ConsumedRecord {
    // Fresh buffers per fetch: a consumer that zeroes what it read cannot change the log.
    return {
      topic,
      partition,
      offset: r.offset.toString(),
      key: r.key === null ? null : Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      headers: r.headers.map((h) => ({
        key: h.key,
        value: h.value === null ? null : Buffer.from(h.value),
      })),
      timestampMs: r.timestampMs,
    };
  }

  #topic(name: string): TopicState {
    const t = this.#topics.get(name);
    if (t === undefined)
      throw new TransportError('TOPIC_NOT_FOUND', 'the topic does not exist', { retriable: true });
    return t;
  }

  partitionCount(topic: string): number {
    return this.#topic(topic).logs.length;
  }

  hasTopic(topic: string): boolean {
    return this.#topics.has(topic);
  }

  createTopics(specs: readonly TopicSpec[]): boolean {
    let all = true;
    for (const s of specs) {
      if (this.#topics.has(s.topic)) {
        all = false;
        continue;
      }
      const n = s.numPartitions ?? 1;
      if (!Number.isInteger(n) || n < 1)
        throw new TransportError('INVALID_ARGUMENT', 'numPartitions must be a positive integer');
      this.#topics.set(s.topic, {
        name: s.topic,
        logs: Array.from({ length: n }, () => []),
        configs: {
          'cleanup.policy': s.compacted === true ? 'compact' : 'delete',
          ...s.configs,
        },
      });
    }
    if (all) for (const g of this.#groups.values()) this.#rebalanceIfSubscribed(g, specs);
    return all;
  }

  #rebalanceIfSubscribed(g: GroupState, specs: readonly TopicSpec[]): void {
    if (g.members.some((m) => specs.some((s) => m.subscribedTopics().includes(s.topic))))
      this.#rebalance(g);
  }

  deleteTopics(topics: readonly string[]): void {
    for (const t of topics) this.#topic(t);
    for (const t of topics) {
      this.#topics.delete(t);
      for (const g of this.#groups.values())
        for (const k of [...g.committed.keys()])
          if (k.startsWith(`${t}\u0000`)) g.committed.delete(k);
    }
    for (const g of this.#groups.values())
      if (g.members.some((m) => m.subscribedTopics().some((s) => topics.includes(s))))
        this.#rebalance(g);
  }

  listTopics(): string[] {
    return [...this.#topics.keys()];
  }

  topicConfig(topic: string): Record<string, string> {
    return { ...this.#topic(topic).configs };
  }

  // -------------------------------------------------------------------------------------------------
  // Groups

  #group(groupId: string): GroupState {
    let g = this.#groups.get(groupId);
    if (g === undefined) {
      g = { id: groupId, generation: 0, members: [], committed: new Map() };
      this.#groups.set(groupId, g);
    }
    return g;
  }

  join(groupId: string, member: GroupMember): void {
    this.#fenced.delete(member);
    const g = this.#group(groupId);
    if (!g.members.includes(member)) g.members.push(member);
    this.#rebalance(g);
  }

  leave(groupId: string, member: GroupMember): void {
    this.#fenced.delete(member);
    const g = this.#groups.get(groupId);
    if (g === undefined) return;
    const i = g.members.indexOf(member);
    if (i < 0) return;
    g.members.splice(i, 1);
    this.#rebalance(g);
  }

  /** Deletes a group without members (and its committed offsets), as the broker's DeleteGroups. */
  deleteGroup(groupId: string): void {
    const g = this.#groups.get(groupId);
    if (g === undefined)
      throw new TransportError('TRANSPORT_FAILED', `delete group ${groupId}: no such group`, {
        retriable: false,
        brokerErrorType: 'GROUP_ID_NOT_FOUND',
      });
    if (g.members.length > 0)
      throw new TransportError('TRANSPORT_FAILED', `delete group ${groupId}: it has members`, {
        retriable: false,
        brokerErrorType: 'NON_EMPTY_GROUP',
      });
    this.#groups.delete(groupId);
  }

  isMember(groupId: string, member: GroupMember): boolean {
    return this.#groups.get(groupId)?.members.includes(member) ?? false;
  }

  /**
   * A new generation: every topic-partition the members subscribe to, sorted, dealt round-robin over
   * the members (sorted by member id) that subscribe to its topic — kafkajs's default RoundRobin
   * assigner.
   */
  #rebalance(g: GroupState): void {
    g.generation++;
    const members = [...g.members].sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
    const topics = [...new Set(members.flatMap((m) => m.subscribedTopics()))]
      .filter((t) => this.#topics.has(t))
      .sort();
    const assignment = new Map<GroupMember, TopicPartition[]>(members.map((m) => [m, []]));
    let i = 0;
    for (const topic of topics) {
      const takers = members.filter((m) => m.subscribedTopics().includes(topic));
      for (let p = 0; p < this.#topics.get(topic)!.logs.length; p++) {
        if (takers.length === 0) break;
        // Dealt over the members as kafkajs's RoundRobinAssigner does (one counter for all topics).
        assignment.get(takers[i++ % takers.length]!)!.push({ topic, partition: p });
      }
    }
    for (const m of members) m.rebalanced(g.generation, assignment.get(m)!);
  }

  commit(
    groupId: string,
    generation: number,
    member: GroupMember,
    commits: readonly OffsetCommit[],
  ): void {
    const g = this.#group(groupId);
    const i = this.#commitFaults.findIndex((f) => f.groupId === undefined || f.groupId === groupId);
    if (i >= 0) throw this.#commitFaults.splice(i, 1)[0]!.error;
    if (!g.members.includes(member) || generation !== g.generation)
      throw new TransportError(
        'REBALANCE_IN_PROGRESS',
        'commit offsets: the group is rebalancing (stale generation)',
        { retriable: true, brokerErrorType: 'ILLEGAL_GENERATION' },
      );
    for (const c of commits) {
      if (this.#topics.get(c.topic)?.logs[c.partition] === undefined)
        throw new TransportError('TOPIC_NOT_FOUND', 'commit offsets: no such partition', {
          retriable: true,
        });
      if (c.metadata !== null && Buffer.byteLength(c.metadata, 'utf8') > MAX_METADATA_BYTES)
        throw new TransportError(
          'OFFSET_METADATA_TOO_LARGE',
          'commit offsets: metadata longer than offset.metadata.max.bytes',
        );
    }
    const atMs = this.scheduler.nowMs();
    for (const c of commits) {
      g.committed.set(tpKey(c.topic, c.partition), { offset: c.offset, metadata: c.metadata });
      const entry = { ...c, groupId, generation, atMs };
      this.#commitLog.push(entry);
      this.#onCommit?.(entry);
    }
  }

  committed(
    groupId: string,
    topic: string,
    partition: number,
  ): { offset: string; metadata: string | null } | undefined {
    return this.#groups.get(groupId)?.committed.get(tpKey(topic, partition));
  }

  // -------------------------------------------------------------------------------------------------
  // ACLs (kept as a list; never enforced)

  describeAcls(): AclBinding[] {
    return [...this.#acls.values()];
  }

  createAcls(bindings: readonly AclBinding[]): void {
    for (const b of bindings) this.#acls.set(aclBindingKey(b), { ...b });
  }

  deleteAcls(bindings: readonly AclBinding[]): void {
    for (const b of bindings) this.#acls.delete(aclBindingKey(b));
  }

  #wakeAll(): void {
    for (const g of this.#groups.values()) for (const m of g.members) m.wake();
  }
}
