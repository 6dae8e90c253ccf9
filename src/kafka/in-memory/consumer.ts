/**
 * The in-memory consumer: a member of an in-memory consumer group with the kafkajs adapter's
 * semantics (transport.ts): a run loop fetching one partition's batch at a time (round-robin over the
 * assigned, unpaused partitions with records), unresolved records fetched again, handler failures
 * pausing the partition with the same backoff, REBALANCE_IN_PROGRESS making the member rejoin, a new
 * generation adopted between batches (`onAssignment` called before the first fetch, fetch positions
 * from the committed offsets), commits refused with REBALANCE_IN_PROGRESS while the member's
 * generation is stale, and a member fenced by the coordinator (InMemoryCluster.fenceMember) finding
 * its batch in hand stale and rejoining with an empty assignment first, as the kafkajs adapter does
 * after a break in membership (src/kafka/membership-lease.ts). Batches are handled one at a time
 * (`partitionsConsumedConcurrently` is accepted and ignored: the contract allows any interleaving of
 * partitions).
 */
import { messageLoop } from '../message-loop.js';
import { checkOffset, checkPartition } from '../offset-checks.js';
import { PartitionBackoff } from '../partition-backoff.js';
import type {
  BatchControl,
  BatchHandler,
  ConsumedBatch,
  ConsumerCrash,
  ConsumerRunOptions,
  OffsetCommit,
  TopicPartition,
  TransportConsumer,
  TransportConsumerOptions,
} from '../transport.js';
import { TransportError } from '../transport-error.js';
import type { GroupMember, InMemoryCluster } from './cluster.js';
import type { ScheduledCall } from './scheduler.js';

const tpKey = (at: TopicPartition): string => `${at.topic}\u0000${at.partition}`;

type State = 'new' | 'connected' | 'running' | 'stopping' | 'stopped' | 'killed';

/** What the consumer needs from the transport that made it. */
export interface InMemoryConsumerContext {
  readonly cluster: InMemoryCluster;
  readonly clientId: string;
  readonly random: (() => number) | undefined;
  /** Called with errors thrown by listeners (kept out of the consumer). */
  readonly onListenerError: (err: unknown) => void;
}

/** See the module comment. */
export class InMemoryConsumer implements TransportConsumer, GroupMember {
  readonly memberId: string;
  readonly #c: InMemoryConsumerContext;
  readonly #groupId: string;
  readonly #maxBytes: number;
  readonly #backoff: PartitionBackoff;
  readonly #assignmentListeners = new Set<(assignment: readonly TopicPartition[]) => void>();
  readonly #rebalancingListeners = new Set<() => void>();
  readonly #crashListeners = new Set<(crash: ConsumerCrash) => void>();
  readonly #paused = new Map<string, TopicPartition>();
  readonly #resumeCalls = new Map<string, ScheduledCall>();
  readonly #positions = new Map<string, bigint>();
  /** Partitions sought during the batch in hand (the rest of it is stale). */
  readonly #sought = new Set<string>();
  #state: State = 'new';
  #topics: readonly string[] = [];
  #fromBeginning = false;
  #generation = 0;
  #assignment: readonly TopicPartition[] = [];
  #pending: { generation: number; assignment: readonly TopicPartition[] } | undefined;
  /** Fenced by the coordinator (InMemoryCluster.fenceMember) and not rejoined yet. */
  #fenced = false;
  #eachBatch: BatchHandler | undefined;
  #onHandlerError: ConsumerRunOptions['onHandlerError'];
  #cursor = 0;
  #idle = true;
  #wakeUp: (() => void) | undefined;
  #loopDone: Promise<void> = Promise.resolve();

  constructor(context: InMemoryConsumerContext, options: TransportConsumerOptions) {
    this.#c = context;
    this.#groupId = options.groupId;
    this.memberId = context.cluster.nextMemberId(context.clientId);
    this.#maxBytes = options.maxBytesPerPartition ?? 1_048_576;
    this.#backoff = new PartitionBackoff({
      ...(options.retryInitialDelayMs === undefined
        ? {}
        : { initialDelayMs: options.retryInitialDelayMs }),
      ...(options.retryMaxDelayMs === undefined ? {} : { maxDelayMs: options.retryMaxDelayMs }),
      ...(context.random === undefined ? {} : { random: context.random }),
    });
  }

  // -------------------------------------------------------------------------------------------------
  // GroupMember

  subscribedTopics(): readonly string[] {
    return this.#topics;
  }

  rebalanced(generation: number, assignment: readonly TopicPartition[]): void {
    const joinedBefore = this.#generation > 0;
    this.#pending = { generation, assignment };
    if (joinedBefore)
      for (const listener of this.#rebalancingListeners) this.#callListener(listener);
    this.wake();
  }

  wake(): void {
    const w = this.#wakeUp;
    this.#wakeUp = undefined;
    w?.();
  }

  fenced(): void {
    if (this.#state !== 'running') return;
    this.#fenced = true;
    this.#pending = undefined;
    this.wake();
  }

  crash(error: TransportError, willRestart: boolean): void {
    if (this.#state !== 'running') return;
    this.#fenced = false;
    this.#c.cluster.leave(this.#groupId, this);
    this.#generation = 0;
    this.#assignment = [];
    this.#pending = undefined;
    if (!willRestart) this.#stop('stopped');
    const crash: ConsumerCrash = { error, willRestart };
    for (const listener of this.#crashListeners) this.#callListener(() => listener(crash));
    // kafkajs restarts a consumer whose crash was retriable: it joins again.
    if (willRestart && this.#state === 'running') this.#c.cluster.join(this.#groupId, this);
  }

  kill(): void {
    if (this.#state === 'killed') return;
    const wasMember = this.#c.cluster.isMember(this.#groupId, this);
    this.#stop('killed');
    if (wasMember) this.#c.cluster.leave(this.#groupId, this);
  }

  isIdle(): boolean {
    return this.#idle;
  }

  // -------------------------------------------------------------------------------------------------
  // TransportConsumer

  async connect(): Promise<void> {
    this.#alive('consumer connect');
    await this.#c.cluster.call('consumer connect', () => undefined);
    if (this.#state === 'new') this.#state = 'connected';
  }

  async subscribe(options: {
    readonly topics: readonly string[];
    readonly fromBeginning?: boolean;
  }): Promise<void> {
    this.#alive('subscribe');
    await this.#c.cluster.call('subscribe', () => {
      for (const t of options.topics)
        if (!this.#c.cluster.hasTopic(t))
          throw new TransportError('TOPIC_NOT_FOUND', 'subscribe: the topic does not exist', {
            retriable: true,
          });
    });
    this.#topics = [...new Set([...this.#topics, ...options.topics])];
    this.#fromBeginning = options.fromBeginning ?? false;
  }

  async run(options: ConsumerRunOptions): Promise<void> {
    this.#alive('consumer run');
    if (this.#state === 'running')
      throw new TransportError('TRANSPORT_FAILED', 'consumer run: already running');
    await this.#c.cluster.call('consumer run', () => undefined);
    this.#eachBatch = options.eachBatch ?? messageLoop(options.eachMessage, this.#backoff);
    this.#onHandlerError = options.onHandlerError;
    this.#state = 'running';
    this.#c.cluster.join(this.#groupId, this);
    // As kafkajs's run(): resolves once joined (the assignment listeners ran), before the first fetch.
    if (this.#pending !== undefined) this.#adopt(this.#pending);
    this.#loopDone = this.#loop();
  }

  async commitOffsets(commits: readonly OffsetCommit[]): Promise<void> {
    this.#requireRunning('commitOffsets');
    for (const c of commits) {
      checkPartition(c.partition);
      checkOffset(c.offset);
    }
    const generation = this.#generation;
    await this.#c.cluster.call('commit offsets', () => {
      this.#alive('commit offsets');
      // A member that has not adopted the newest generation yet commits with a stale one.
      this.#c.cluster.commit(this.#groupId, generation, this, commits);
    });
  }

  pause(
    partitions: readonly TopicPartition[],
    options: { readonly resumeAfterMs?: number } = {},
  ): void {
    this.#requireRunning('pause');
    for (const at of partitions) checkPartition(at.partition);
    for (const at of partitions) {
      const key = tpKey(at);
      this.#paused.set(key, { topic: at.topic, partition: at.partition });
      this.#resumeCalls.get(key)?.cancel();
      this.#resumeCalls.delete(key);
      if (options.resumeAfterMs !== undefined)
        this.#resumeCalls.set(
          key,
          this.#c.cluster.scheduler.after(options.resumeAfterMs, () => {
            this.#resumeCalls.delete(key);
            if (this.#state === 'running') this.resume([at]);
          }),
        );
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#requireRunning('resume');
    for (const at of partitions) {
      checkPartition(at.partition);
      const key = tpKey(at);
      this.#resumeCalls.get(key)?.cancel();
      this.#resumeCalls.delete(key);
      this.#paused.delete(key);
    }
    this.wake();
  }

  paused(): TopicPartition[] {
    if (this.#state !== 'running') return [];
    return [...this.#paused.values()].map((p) => ({ ...p }));
  }

  seek(at: TopicPartition, offset: string): void {
    checkPartition(at.partition);
    checkOffset(offset);
    this.#requireRunning('seek');
    const key = tpKey(at);
    this.#positions.set(key, BigInt(offset));
    this.#sought.add(key);
    this.wake();
  }

  onAssignment(listener: (assignment: readonly TopicPartition[]) => void): () => void {
    this.#assignmentListeners.add(listener);
    return () => this.#assignmentListeners.delete(listener);
  }

  onRebalancing(listener: () => void): () => void {
    this.#rebalancingListeners.add(listener);
    return () => this.#rebalancingListeners.delete(listener);
  }

  onCrash(listener: (crash: ConsumerCrash) => void): () => void {
    this.#crashListeners.add(listener);
    return () => this.#crashListeners.delete(listener);
  }

  async disconnect(): Promise<void> {
    if (this.#state === 'killed') return;
    const wasMember = this.#c.cluster.isMember(this.#groupId, this);
    this.#stop('stopping');
    // The batch in hand finishes first (and may still commit), then the member leaves the group.
    await this.#loopDone;
    if (wasMember) this.#c.cluster.leave(this.#groupId, this);
    this.#state = 'stopped';
  }

  // -------------------------------------------------------------------------------------------------
  // The run loop

  async #loop(): Promise<void> {
    // run() resolves before the first batch is handled, as a network fetch would make it.
    this.#idle = false;
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#state === 'running') {
      if (this.#fenced) {
        this.#rejoin();
        continue;
      }
      if (this.#pending !== undefined) {
        this.#adopt(this.#pending);
        continue;
      }
      const batch = this.#c.cluster.brokerDown ? undefined : this.#nextBatch();
      if (batch === undefined) {
        await new Promise<void>((resolve) => {
          this.#idle = true;
          this.#wakeUp = resolve;
        });
        this.#idle = false;
        continue;
      }
      await this.#runBatch(batch);
      // Let timers, I/O and other clients run between batches (as a network fetch would).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#idle = true;
  }

  /**
   * After being fenced: holds nothing first (the listeners see an empty assignment, so they keep
   * nothing they knew about a partition across the gap — another member may have handled it), then
   * joins again; the new generation is adopted before the next fetch.
   */
  #rejoin(): void {
    this.#fenced = false;
    const held = this.#assignment.length > 0;
    this.#assignment = [];
    this.#positions.clear();
    this.#sought.clear();
    if (held)
      for (const listener of this.#assignmentListeners) this.#callListener(() => listener([]));
    if (this.#state === 'running') this.#c.cluster.join(this.#groupId, this);
  }

  /** Adopts a new generation: fetch positions from the committed offsets, then the listeners. */
  #adopt(next: { generation: number; assignment: readonly TopicPartition[] }): void {
    this.#pending = undefined;
    this.#generation = next.generation;
    this.#assignment = next.assignment;
    this.#positions.clear();
    this.#sought.clear();
    for (const at of next.assignment) {
      const committed = this.#c.cluster.committed(this.#groupId, at.topic, at.partition);
      const position =
        committed !== undefined && BigInt(committed.offset) >= 0n
          ? BigInt(committed.offset)
          : this.#fromBeginning
            ? 0n
            : this.#c.cluster.highWatermark(at.topic, at.partition);
      this.#positions.set(tpKey(at), position);
    }
    const assignment = next.assignment.map((at) => ({ ...at }));
    for (const listener of this.#assignmentListeners)
      this.#callListener(() => listener(assignment));
  }

  #nextBatch(): ConsumedBatch | undefined {
    const n = this.#assignment.length;
    for (let i = 0; i < n; i++) {
      const at = this.#assignment[(this.#cursor + i) % n]!;
      const key = tpKey(at);
      if (this.#paused.has(key) || !this.#c.cluster.hasTopic(at.topic)) continue;
      const from = this.#positions.get(key) ?? 0n;
      const { records, high } = this.#c.cluster.fetch(at.topic, at.partition, from, this.#maxBytes);
      if (records.length === 0) continue;
      this.#cursor = (this.#cursor + i + 1) % n;
      return {
        topic: at.topic,
        partition: at.partition,
        highWatermark: high.toString(),
        records,
      };
    }
    return undefined;
  }

  async #runBatch(batch: ConsumedBatch): Promise<void> {
    const at = { topic: batch.topic, partition: batch.partition };
    const key = tpKey(at);
    const generation = this.#generation;
    this.#sought.delete(key);
    let resolved: bigint | undefined;
    const control: BatchControl = {
      resolveOffset: (offset) => {
        checkOffset(offset);
        const next = BigInt(offset) + 1n;
        if (resolved === undefined || next > resolved) resolved = next;
      },
      heartbeat: () =>
        this.#c.cluster.call('heartbeat', () => {
          this.#alive('heartbeat');
          if (this.#fenced)
            throw new TransportError('REBALANCE_IN_PROGRESS', 'heartbeat: the member was fenced', {
              retriable: true,
              brokerErrorType: 'UNKNOWN_MEMBER_ID',
            });
          if (this.#pending !== undefined || this.#generation !== generation)
            throw new TransportError(
              'REBALANCE_IN_PROGRESS',
              'heartbeat: the group is rebalancing',
              {
                retriable: true,
                brokerErrorType: 'REBALANCE_IN_PROGRESS',
              },
            );
        }),
      pause: (options) => this.pause([at], options),
      isRunning: () => this.#state === 'running',
      isStale: () =>
        this.#fenced ||
        this.#sought.has(key) ||
        this.#generation !== generation ||
        (this.#pending !== undefined &&
          !this.#pending.assignment.some(
            (p) => p.topic === at.topic && p.partition === at.partition,
          )),
    };
    try {
      await this.#eachBatch!(batch, control);
    } catch (err) {
      if (err instanceof TransportError && err.code === 'REBALANCE_IN_PROGRESS') {
        // The member rejoins at once; unresolved records go to whoever owns the partition next.
        if (this.#pending === undefined && !this.#fenced && this.#state === 'running')
          this.#c.cluster.rebalance(this.#groupId);
      } else {
        this.#onHandlerError?.(err, at);
        if (this.#state === 'running')
          this.pause([at], { resumeAfterMs: this.#backoff.nextDelayMs(at) });
      }
    }
    // A seek during the batch wins; otherwise the fetch position moves past what was resolved.
    if (!this.#sought.has(key) && resolved !== undefined && this.#generation === generation) {
      const current = this.#positions.get(key);
      if (current === undefined || resolved > current) this.#positions.set(key, resolved);
    }
    this.#sought.delete(key);
  }

  #stop(state: 'stopping' | 'stopped' | 'killed'): void {
    this.#state = state;
    for (const call of this.#resumeCalls.values()) call.cancel();
    this.#resumeCalls.clear();
    this.wake();
  }

  #alive(operation: string): void {
    if (this.#state === 'killed')
      throw new TransportError('NOT_CONNECTED', `${operation}: the client was killed (test fault)`);
  }

  #requireRunning(operation: string): void {
    this.#alive(operation);
    if (this.#state !== 'running')
      throw new TransportError(
        'NOT_CONNECTED',
        `${operation} needs a running consumer (call run first)`,
        { retriable: true },
      );
  }

  #callListener(call: () => void): void {
    try {
      call();
    } catch (err) {
      // A listener bug must not take the consumer down with it.
      this.#c.onListenerError(err);
    }
  }
}
