/**
 * The consumer of the @platformatic/kafka adapter. @platformatic/kafka's own consuming API is a
 * stream over every assigned partition with no per-partition pause, resume or seek and with commits
 * that carry no metadata; so this adapter uses the client for what the port needs of a group member
 * — joining (classic protocol, eager round-robin assignment), background heartbeats, rejoining after
 * a rebalance, leaving — and runs its own fetch loop on the client's low-level `fetch`, with one
 * position per assigned partition. Commits go through the client's OffsetCommit API with the
 * member's generation and the port's metadata; a stale generation fails as REBALANCE_IN_PROGRESS
 * (the client's `commit` would rejoin and commit again under the new generation instead).
 *
 * Membership follows the kafkajs adapter (membership-lease.ts): the lease counts from when an
 * answered heartbeat was sent, a batch is stale when the member cannot prove its membership, when a
 * rebalance or a seek made it obsolete, and an assignment that does not continue the previous one
 * (member id changed, a generation skipped, the member left) is announced as an empty assignment
 * first.
 */
import { consumerGroupChannel, Consumer, ListOffsetTimestamps, kGetApi } from '@platformatic/kafka';
import type { API, ClusterMetadata, fetchV17, offsetCommitV8 } from '@platformatic/kafka';

type FetchResponse = fetchV17.FetchResponse;
type OffsetCommitRequestTopic = offsetCommitV8.OffsetCommitRequestTopic;
import type { Logger } from 'pino';
import { MembershipLease } from './membership-lease.js';
import { messageLoop } from './message-loop.js';
import { checkOffset, checkPartition } from './offset-checks.js';
import { PartitionBackoff } from './partition-backoff.js';
import { mapped, protocolErrorName, toTransportError } from './platformatic-errors.js';
import type { PlatformaticClientOptions } from './platformatic-options.js';
import { fromPlatformaticBatches } from './platformatic-records.js';
import type {
  BatchControl,
  BatchHandler,
  ConsumerCrash,
  ConsumerRunOptions,
  OffsetCommit,
  TopicPartition,
  TransportConsumer,
  TransportConsumerOptions,
} from './transport.js';
import { TransportError } from './transport-error.js';

/** Kafka's OFFSET_OUT_OF_RANGE error code. */
const OFFSET_OUT_OF_RANGE_CODE = 1;

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Per assigned partition: where the next fetch starts and what may make a fetched batch obsolete. */
interface PartitionPosition {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to fetch; undefined until resolved from the committed offset. */
  next: bigint | undefined;
  /** Bumped by every seek: a batch fetched before it is stale. */
  seeks: number;
  /** The position fell out of the log: resolve it from the reset policy, not the commit. */
  resetToPolicy?: boolean;
}

type ApiCall<A extends unknown[], R> = API<A, R>;

/** What the consumer needs of the record-level options (resolved once). */
interface Settings {
  readonly maxWaitMs: number;
  readonly maxBytesPerPartition: number;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

export class PlatformaticConsumer implements TransportConsumer {
  readonly #client: Consumer<Buffer, Buffer, Buffer, Buffer>;
  readonly #logger: Logger;
  readonly #backoff: PartitionBackoff;
  readonly #settings: Settings;
  readonly #lease: MembershipLease;
  readonly #resumeTimers = new Map<string, NodeJS.Timeout>();
  readonly #assignmentListeners = new Set<(assignment: readonly TopicPartition[]) => void>();
  readonly #rebalancingListeners = new Set<() => void>();
  readonly #crashListeners = new Set<(crash: ConsumerCrash) => void>();
  readonly #paused = new Map<string, TopicPartition>();
  /** The current assignment's partitions (replaced at every join). */
  #positions = new Map<string, PartitionPosition>();
  #topics: string[] = [];
  #fromBeginning = false;
  #running = false;
  #holds = false;
  /** Bumped at every assignment: a batch fetched under an older one is stale. */
  #assignmentEpoch = 0;
  #generationId: number | undefined;
  #memberId: string | undefined;
  #heartbeatSentAt: number | undefined;
  #syncSentAt: number | undefined;
  #needsRejoin = false;
  /** The coordinator said the group rebalances: nothing is handed out until the next assignment. */
  #rebalancing = false;
  #rebalancingSince = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #groupTrace: { start: (ctx: unknown) => void };

  constructor(client: PlatformaticClientOptions, options: TransportConsumerOptions) {
    const raw = client.consumerConfig as {
      readonly sessionTimeout?: number;
      readonly rebalanceTimeout?: number;
      readonly heartbeatInterval?: number;
    };
    this.#settings = {
      maxWaitMs: options.maxWaitTimeMs ?? 1000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      sessionTimeoutMs: raw.sessionTimeout ?? options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeoutMs: raw.rebalanceTimeout ?? options.rebalanceTimeoutMs ?? 60_000,
      heartbeatIntervalMs: raw.heartbeatInterval ?? options.heartbeatIntervalMs ?? 3_000,
    };
    this.#client = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...client.base,
      retries: client.retries,
      groupId: options.groupId,
      autocommit: false,
      autocreateTopics: false,
      sessionTimeout: this.#settings.sessionTimeoutMs,
      rebalanceTimeout: this.#settings.rebalanceTimeoutMs,
      heartbeatInterval: this.#settings.heartbeatIntervalMs,
      maxWaitTime: this.#settings.maxWaitMs,
      maxBytesPerPartition: this.#settings.maxBytesPerPartition,
      // Per fetch response, as kafkajs's default (the client's own is 50 MiB).
      maxBytes: 10_485_760,
      ...client.consumerConfig,
    });
    this.#logger = client.logger;
    this.#backoff = new PartitionBackoff({
      ...(options.retryInitialDelayMs === undefined
        ? {}
        : { initialDelayMs: options.retryInitialDelayMs }),
      ...(options.retryMaxDelayMs === undefined ? {} : { maxDelayMs: options.retryMaxDelayMs }),
      ...(client.random === undefined ? {} : { random: client.random }),
    });
    this.#lease = new MembershipLease({
      sessionTimeoutMs: this.#settings.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#settings.rebalanceTimeoutMs,
      heartbeatIntervalMs: this.#settings.heartbeatIntervalMs,
      monoMs: () => performance.now(),
    });
    const c = this.#client;
    c.on('consumer:heartbeat:start', () => {
      this.#heartbeatSentAt = performance.now();
    });
    c.on('consumer:heartbeat:end', () => {
      if (this.#heartbeatSentAt === undefined) return;
      this.#lease.answered('Heartbeat', performance.now() - this.#heartbeatSentAt);
      this.#heartbeatSentAt = undefined;
      this.#lease.heartbeatSucceeded();
    });
    c.on('consumer:heartbeat:error', () => {
      this.#heartbeatSentAt = undefined;
    });
    c.on('consumer:group:rebalance', () => {
      // Eager protocol: every partition is revoked by the rebalance; batches in hand are obsolete.
      this.#startRebalancing();
      for (const listener of this.#rebalancingListeners) this.#callListener(listener);
    });
    c.on('consumer:group:join', (payload) => this.#joined(payload));
    c.on('consumer:group:leave', () => this.#lease.left());
    // A rejoin after a failed heartbeat that failed itself: the fetch loop joins again.
    c.on('error', (err: unknown) => {
      this.#needsRejoin = true;
      this.#lease.left();
      this.#crash(err, true);
      this.#wake?.();
    });
    // The SyncGroup send time (the lease restarts there): traced when the client starts the sync,
    // which is no later than the request is sent.
    this.#groupTrace = {
      start: (ctx: unknown) => {
        const e = ctx as { client?: unknown; operation?: unknown };
        if (e.client === this.#client && e.operation === 'syncGroup') {
          this.#syncSentAt = performance.now();
        }
      },
    };
  }

  #joined(payload: {
    memberId: string;
    generationId?: number;
    assignments?: { topic: string; partitions: number[] }[];
  }): void {
    // The same generation announced twice (two join flows of the client met): nothing new.
    if (payload.memberId === this.#memberId && payload.generationId === this.#generationId) return;
    const now = performance.now();
    this.#lease.answered('SyncGroup', this.#syncSentAt === undefined ? 0 : now - this.#syncSentAt);
    this.#syncSentAt = undefined;
    const generation = payload.generationId ?? 0;
    let discontinuity = this.#lease.joined(payload.memberId, 0);
    // Generations are numbered one by one: a member that skipped one never saw its assignment.
    if (
      discontinuity === undefined &&
      this.#generationId !== undefined &&
      this.#memberId === payload.memberId &&
      generation !== this.#generationId + 1
    ) {
      discontinuity = 'generation-missed';
    }
    this.#generationId = generation;
    this.#memberId = payload.memberId;
    this.#needsRejoin = false;
    this.#rebalancing = false;
    const assignment: TopicPartition[] = [];
    for (const a of payload.assignments ?? []) {
      for (const partition of a.partitions) assignment.push({ topic: a.topic, partition });
    }
    this.#assignmentEpoch++;
    const positions = new Map<string, PartitionPosition>();
    for (const { topic, partition } of assignment) {
      // Every assignment starts at the committed offsets: what this member fetched but did not
      // commit may have been handled by another member meanwhile.
      positions.set(tpKey(topic, partition), {
        topic,
        partition,
        next: undefined,
        seeks: 0,
      });
    }
    this.#positions = positions;
    for (const [key] of this.#paused) if (!positions.has(key)) this.#paused.delete(key);
    if (discontinuity !== undefined && this.#holds) {
      this.#logger.info(
        { reason: discontinuity },
        'group membership not continuous; previous assignment dropped',
      );
      for (const listener of this.#assignmentListeners) this.#callListener(() => listener([]));
    }
    this.#holds = assignment.length > 0;
    for (const listener of this.#assignmentListeners)
      this.#callListener(() => listener(assignment));
    this.#wake?.();
  }

  #startRebalancing(): void {
    if (!this.#rebalancing) this.#rebalancingSince = performance.now();
    this.#rebalancing = true;
  }

  #callListener(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.#logger.error({ err: describeError(err) }, 'consumer event listener failed');
    }
  }

  #crash(err: unknown, willRestart: boolean): void {
    const crash: ConsumerCrash = { error: toTransportError(err, 'consumer'), willRestart };
    for (const listener of this.#crashListeners) this.#callListener(() => listener(crash));
  }

  async connect(): Promise<void> {
    await mapped('consumer connect', () => this.#client.metadata({ topics: [] }));
  }

  async subscribe(options: {
    readonly topics: readonly string[];
    readonly fromBeginning?: boolean;
  }): Promise<void> {
    const metadata = await mapped('subscribe', () =>
      this.#client.metadata({ topics: [...options.topics], autocreateTopics: false }),
    );
    for (const topic of options.topics) {
      if (!metadata.topics.has(topic)) {
        throw new TransportError('TOPIC_NOT_FOUND', 'subscribe: the topic does not exist', {
          retriable: true,
        });
      }
    }
    this.#topics = [...new Set([...this.#topics, ...options.topics])];
    this.#fromBeginning = options.fromBeginning ?? false;
  }

  async run(options: ConsumerRunOptions): Promise<void> {
    const eachBatch = options.eachBatch ?? messageLoop(options.eachMessage, this.#backoff);
    this.#running = true;
    // Subscribed for the run only (a consumer never run holds no subscription).
    consumerGroupChannel.subscribe(this.#groupTrace as never);
    for (const topic of this.#topics) this.#client.topics.track(topic);
    try {
      await this.#join();
    } catch (err) {
      this.#running = false;
      consumerGroupChannel.unsubscribe(this.#groupTrace as never);
      throw toTransportError(err, 'consumer run');
    }
    this.#loop = this.#fetchLoop(eachBatch, options);
  }

  async #join(): Promise<void> {
    await this.#client.joinGroup({
      sessionTimeout: this.#settings.sessionTimeoutMs,
      rebalanceTimeout: this.#settings.rebalanceTimeoutMs,
      heartbeatInterval: this.#settings.heartbeatIntervalMs,
    });
  }

  /** Sleeps until `ms` passed or something changed (assignment, resume, seek, stop). */
  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  async #fetchLoop(eachBatch: BatchHandler, options: ConsumerRunOptions): Promise<void> {
    const concurrency = Math.max(1, options.partitionsConsumedConcurrently ?? 1);
    let failures = 0;
    /**
     * The next fetch, started while the current batches are handled (as kafkajs overlaps fetching
     * and handling): a handed-out partition is fetched from the end of its batch, on the guess that
     * the handler resolves all of it. A prefetched batch is used only if its partition's position is
     * where it was fetched from by then (see #current); otherwise it is dropped and fetched again.
     */
    let prefetched: Promise<FetchOutcome> | undefined;
    while (this.#running) {
      try {
        // A rebalance the client did not finish within its bounds: join again from here.
        if (
          this.#rebalancing &&
          performance.now() - this.#rebalancingSince >
            this.#settings.sessionTimeoutMs + this.#settings.rebalanceTimeoutMs
        ) {
          this.#needsRejoin = true;
        }
        if (this.#needsRejoin) {
          await settled(prefetched);
          prefetched = undefined;
          await this.#join();
          continue;
        }
        await this.#resolvePositions();
        const outcome = await (prefetched ?? outcomeOf(this.#fetchOnce(new Map())));
        prefetched = undefined;
        if ('error' in outcome) throw outcome.error;
        const fetched = outcome.batches;
        if (!this.#running) break;
        if (fetched === undefined) {
          // Nothing to fetch (no assignment, all paused): wait for a change.
          await this.#sleep(this.#settings.maxWaitMs);
          continue;
        }
        failures = 0;
        const work = fetched.filter((b) => b.records.length > 0 && this.#current(b));
        for (const b of fetched) {
          // A run of control records only (transaction markers): move past it.
          if (b.records.length === 0 && b.next !== undefined && this.#current(b))
            b.position.next = b.next;
        }
        if (work.length > 0) {
          const speculative = new Map<string, bigint>();
          for (const b of work) {
            if (b.next !== undefined) speculative.set(tpKey(b.topic, b.partition), b.next);
          }
          prefetched = outcomeOf(this.#fetchOnce(speculative));
        }
        await runLimited(work, concurrency, (b) => this.#handle(b, eachBatch, options));
      } catch (err) {
        if (!this.#running) break;
        failures++;
        const mappedErr = toTransportError(err, 'consumer fetch');
        if (mappedErr.code === 'REBALANCE_IN_PROGRESS') this.#needsRejoin = true;
        this.#logger.warn(
          { err: describeError(mappedErr) },
          'consumer fetch loop failed; retrying',
        );
        if (!mappedErr.retriable) {
          // What a retry cannot mend (an ACL removed, a topic deleted): the consumer stops, and
          // says it will not restart by itself (as kafkajs after a non-retriable error), so the
          // pipeline's restart supervisor takes over.
          this.#running = false;
          this.#lease.left();
          this.#crash(mappedErr, false);
          break;
        }
        await this.#sleep(Math.min(30_000, 200 * 2 ** Math.min(failures, 8)));
      }
    }
    await settled(prefetched);
  }

  /** Whether a fetched batch still belongs to the current assignment and no seek moved it. */
  #current(b: FetchedBatch): boolean {
    return (
      b.epoch === this.#assignmentEpoch &&
      this.#positions.get(tpKey(b.topic, b.partition)) === b.position &&
      b.position.seeks === b.seeks &&
      b.position.next === b.from
    );
  }

  /** Positions of newly assigned partitions: the committed offset, else earliest or latest. */
  async #resolvePositions(): Promise<void> {
    const missing = [...this.#positions.values()].filter((p) => p.next === undefined);
    if (missing.length === 0) return;
    const epoch = this.#assignmentEpoch;
    const byTopic = new Map<string, number[]>();
    for (const p of missing) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
    const committed = await this.#client.listCommittedOffsets({
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
    const reset = new Map<string, number[]>();
    const found = new Map<string, bigint>();
    for (const p of missing) {
      const offset = committed.get(p.topic)?.[p.partition];
      if (p.resetToPolicy !== true && offset !== undefined && offset >= 0n)
        found.set(tpKey(p.topic, p.partition), offset);
      else reset.set(p.topic, [...(reset.get(p.topic) ?? []), p.partition]);
    }
    if (reset.size > 0) {
      const listed = await this.#client.listOffsets({
        topics: [...reset.keys()],
        partitions: Object.fromEntries(reset),
        timestamp: this.#fromBeginning
          ? ListOffsetTimestamps.EARLIEST
          : ListOffsetTimestamps.LATEST,
      });
      for (const [topic, partitions] of reset) {
        for (const partition of partitions) {
          const offset = listed.get(topic)?.[partition];
          if (offset !== undefined && offset >= 0n) found.set(tpKey(topic, partition), offset);
        }
      }
    }
    if (epoch !== this.#assignmentEpoch) return;
    for (const p of missing) {
      const offset = found.get(tpKey(p.topic, p.partition));
      if (offset !== undefined && p.next === undefined) {
        p.next = offset;
        p.resetToPolicy = false;
      }
    }
  }

  /**
   * One fetch of every fetchable partition (per leader, in parallel), each from its position or from
   * the offset `from` gives for it; undefined when none is fetchable.
   */
  async #fetchOnce(from: ReadonlyMap<string, bigint>): Promise<FetchedBatch[] | undefined> {
    if (this.#rebalancing) return undefined;
    const fetchable = [...this.#positions.values()].filter(
      (p) => p.next !== undefined && !this.#paused.has(tpKey(p.topic, p.partition)),
    );
    if (fetchable.length === 0) return undefined;
    const epoch = this.#assignmentEpoch;
    const metadata: ClusterMetadata = await this.#client.metadata({ topics: this.#topics });
    const byNode = new Map<number, PartitionPosition[]>();
    for (const p of fetchable) {
      const leader = metadata.topics.get(p.topic)?.partitions[p.partition]?.leader ?? -1;
      if (leader < 0) continue;
      byNode.set(leader, [...(byNode.get(leader) ?? []), p]);
    }
    if (byNode.size === 0) return undefined;
    const results = await Promise.all(
      [...byNode].map(async ([node, positions]) => {
        const requested = positions.map((p) => ({
          position: p,
          from: from.get(tpKey(p.topic, p.partition)) ?? p.next!,
          seeks: p.seeks,
        }));
        const byTopic = new Map<string, typeof requested>();
        for (const r of requested) {
          byTopic.set(r.position.topic, [...(byTopic.get(r.position.topic) ?? []), r]);
        }
        const topicIds = new Map<string, string>();
        const topics = [...byTopic].map(([topic, rs]) => {
          const id = metadata.topics.get(topic)!.id;
          topicIds.set(id, topic);
          return {
            topicId: id,
            partitions: rs.map((r) => ({
              partition: r.position.partition,
              fetchOffset: r.from,
              partitionMaxBytes: this.#settings.maxBytesPerPartition,
              currentLeaderEpoch: -1,
              lastFetchedEpoch: -1,
            })),
          };
        });
        let response: FetchResponse;
        try {
          response = await this.#client.fetch({
            node,
            topics,
            maxWaitTime: this.#settings.maxWaitMs,
            minBytes: 1,
          });
        } catch (err) {
          if (protocolErrorName(err) === 'OFFSET_OUT_OF_RANGE') {
            // The position fell out of the log (retention, or a commit past the end): start again
            // where the reset policy says, as kafkajs does (earliest with fromBeginning, else
            // latest) — not at the committed offset, which may be the one out of range.
            const response = (err as { response?: FetchResponse }).response;
            const outOfRange = new Set<string>();
            for (const t of response?.responses ?? []) {
              for (const part of t.partitions) {
                if (part.errorCode === OFFSET_OUT_OF_RANGE_CODE) {
                  outOfRange.add(tpKey(topicIds.get(t.topicId) ?? t.topicId, part.partitionIndex));
                }
              }
            }
            for (const r of requested) {
              const key = tpKey(r.position.topic, r.position.partition);
              if (outOfRange.size > 0 && !outOfRange.has(key)) continue;
              if (r.position.seeks !== r.seeks || r.position.next !== r.from) continue;
              r.position.next = undefined;
              r.position.resetToPolicy = true;
            }
            return [];
          }
          throw err;
        }
        const out: FetchedBatch[] = [];
        for (const t of response.responses) {
          const topic = topicIds.get(t.topicId) ?? t.topicId;
          for (const part of t.partitions) {
            const r = requested.find(
              (x) => x.position.topic === topic && x.position.partition === part.partitionIndex,
            );
            if (r === undefined || part.errorCode !== 0) continue;
            const { records, next } = fromPlatformaticBatches(
              topic,
              part.partitionIndex,
              part.records ?? [],
              r.from,
            );
            out.push({
              topic,
              partition: part.partitionIndex,
              position: r.position,
              from: r.from,
              epoch,
              seeks: r.seeks,
              highWatermark: part.highWatermark.toString(),
              records,
              next,
            });
          }
        }
        return out;
      }),
    );
    return results.flat();
  }

  async #handle(
    b: FetchedBatch,
    eachBatch: BatchHandler,
    options: ConsumerRunOptions,
  ): Promise<void> {
    if (!this.#current(b) || this.#rebalancing || this.#paused.has(tpKey(b.topic, b.partition)))
      return;
    const at = { topic: b.topic, partition: b.partition };
    let resolved: bigint | undefined;
    const stale = (): boolean => !this.#current(b) || this.#needsRejoin || this.#rebalancing;
    const control: BatchControl = {
      resolveOffset: (offset) => {
        checkOffset(offset);
        const o = BigInt(offset);
        if (resolved === undefined || o > resolved) resolved = o;
      },
      heartbeat: () => {
        // Heartbeats run in the background; this tells a batch handler that its batch is obsolete.
        if (stale()) {
          return Promise.reject(
            new TransportError('REBALANCE_IN_PROGRESS', 'heartbeat: the group is rebalancing'),
          );
        }
        return Promise.resolve();
      },
      pause: (pauseOptions) => this.pause([at], pauseOptions),
      isRunning: () => this.#running,
      isStale: () => stale() || !this.#lease.held(),
    };
    try {
      // A batch fetched after a stall starts only once the membership is proven again.
      if (!(await this.#renewLease())) return;
      if (!this.#current(b)) return;
      await eachBatch(
        {
          topic: b.topic,
          partition: b.partition,
          highWatermark: b.highWatermark,
          records: b.records,
        },
        control,
      );
    } catch (err) {
      if (err instanceof TransportError && err.code === 'REBALANCE_IN_PROGRESS') {
        // A rebalance seen by a commit or heartbeat: nothing more is handed out until the member has
        // its next assignment. The client's background heartbeat meets the same condition within
        // one interval and rejoins (a second join from here would race it); whoever owns the
        // partition next reads from the last commit.
        // A batch from before the next assignment only: once that came, nothing is left to stop.
        if (this.#current(b)) this.#startRebalancing();
        return;
      }
      options.onHandlerError?.(err, at);
      this.#logger.warn(
        { err: describeError(err), topic: at.topic, partition: at.partition },
        'batch handler failed; partition paused',
      );
      if (this.#current(b)) this.pause([at], { resumeAfterMs: this.#backoff.nextDelayMs(at) });
    } finally {
      // Unresolved records are fetched again, from the first unresolved one.
      if (this.#current(b)) {
        const last = b.records.at(-1);
        if (
          resolved !== undefined &&
          last !== undefined &&
          resolved >= BigInt(last.offset) &&
          b.next !== undefined
        ) {
          b.position.next = b.next > resolved + 1n ? b.next : resolved + 1n;
        } else if (resolved !== undefined) {
          b.position.next = resolved + 1n;
        }
      }
    }
  }

  /** Waits (bounded by one lease) until a background heartbeat proves the membership again. */
  async #renewLease(): Promise<boolean> {
    const deadline = performance.now() + this.#lease.leaseMs;
    while (!this.#lease.held()) {
      if (!this.#running || this.#needsRejoin || performance.now() > deadline) return false;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(10, this.#settings.heartbeatIntervalMs / 4)),
      );
    }
    return true;
  }

  #requireRunning(operation: string): void {
    if (!this.#running) {
      throw new TransportError(
        'NOT_CONNECTED',
        `${operation} needs a running consumer (call run first)`,
        { retriable: true },
      );
    }
  }

  async commitOffsets(commits: readonly OffsetCommit[]): Promise<void> {
    this.#requireRunning('commitOffsets');
    for (const c of commits) {
      checkPartition(c.partition);
      checkOffset(c.offset);
    }
    if (commits.length === 0) return;
    const byTopic = new Map<string, OffsetCommitRequestTopic>();
    for (const c of commits) {
      const t = byTopic.get(c.topic) ?? { name: c.topic, partitions: [] };
      t.partitions.push({
        partitionIndex: c.partition,
        committedOffset: BigInt(c.offset),
        committedLeaderEpoch: -1,
        committedMetadata: c.metadata,
      });
      byTopic.set(c.topic, t);
    }
    const generation = this.#client.generationId;
    const memberId = this.#client.memberId ?? '';
    await mapped('commit offsets', async () => {
      const coordinator = await this.#client.findGroupCoordinator();
      const metadata = await this.#client.metadata({ topics: [] });
      const broker = metadata.brokers.get(coordinator);
      if (broker === undefined) {
        throw new TransportError(
          'BROKER_BUSY',
          'commit offsets: the group coordinator is unknown',
          {
            retriable: true,
          },
        );
      }
      const connection = await this.#client.connections.get(broker);
      const api = await new Promise<
        ApiCall<[string, number, string, string | null, OffsetCommitRequestTopic[]], unknown>
      >((resolve, reject) =>
        this.#client[kGetApi]<
          [string, number, string, string | null, OffsetCommitRequestTopic[]],
          unknown
        >('OffsetCommit', (err, found) => (err ? reject(err) : resolve(found!))),
      );
      // The member's own generation: a stale one is refused (REBALANCE_IN_PROGRESS), never retried
      // under a newer generation that may not own these partitions.
      await api.async(connection, this.#client.groupId, generation, memberId, null, [
        ...byTopic.values(),
      ]);
    });
  }

  pause(
    partitions: readonly TopicPartition[],
    options: { readonly resumeAfterMs?: number } = {},
  ): void {
    this.#requireRunning('pause');
    for (const at of partitions) checkPartition(at.partition);
    for (const at of partitions) {
      const key = tpKey(at.topic, at.partition);
      this.#paused.set(key, { topic: at.topic, partition: at.partition });
      const previous = this.#resumeTimers.get(key);
      if (previous !== undefined) clearTimeout(previous);
      this.#resumeTimers.delete(key);
      if (options.resumeAfterMs !== undefined) {
        const timer = setTimeout(
          () => {
            this.#resumeTimers.delete(key);
            this.#paused.delete(key);
            this.#wake?.();
          },
          Math.max(0, options.resumeAfterMs),
        );
        timer.unref();
        this.#resumeTimers.set(key, timer);
      }
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    this.#requireRunning('resume');
    for (const at of partitions) {
      checkPartition(at.partition);
      const key = tpKey(at.topic, at.partition);
      const timer = this.#resumeTimers.get(key);
      if (timer !== undefined) clearTimeout(timer);
      this.#resumeTimers.delete(key);
      this.#paused.delete(key);
    }
    this.#wake?.();
  }

  paused(): TopicPartition[] {
    if (!this.#running) return [];
    return [...this.#paused.values()];
  }

  seek(at: TopicPartition, offset: string): void {
    checkPartition(at.partition);
    checkOffset(offset);
    this.#requireRunning('seek');
    const position = this.#positions.get(tpKey(at.topic, at.partition));
    if (position === undefined) {
      throw new TransportError(
        'INVALID_ARGUMENT',
        'seek: the partition is not assigned to this member',
      );
    }
    position.seeks++;
    position.next = BigInt(offset);
    this.#wake?.();
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
    for (const timer of this.#resumeTimers.values()) clearTimeout(timer);
    this.#resumeTimers.clear();
    this.#running = false;
    this.#wake?.();
    // Waits for the batch in hand (and a fetch in flight, at most maxWaitTime).
    await this.#loop?.catch(() => undefined);
    this.#loop = undefined;
    this.#lease.left();
    consumerGroupChannel.unsubscribe(this.#groupTrace as never);
    await mapped('consumer disconnect', () => this.#client.close());
  }
}

interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly position: PartitionPosition;
  /** The offset this batch was fetched from. */
  readonly from: bigint;
  readonly epoch: number;
  readonly seeks: number;
  readonly highWatermark: string;
  readonly records: ReturnType<typeof fromPlatformaticBatches>['records'];
  readonly next: bigint | undefined;
}

/** A fetch's batches, or what it threw (kept, so a fetch started ahead never rejects unobserved). */
type FetchOutcome = { readonly batches: FetchedBatch[] | undefined } | { readonly error: unknown };

function outcomeOf(fetch: Promise<FetchedBatch[] | undefined>): Promise<FetchOutcome> {
  return fetch.then(
    (batches) => ({ batches }),
    (error: unknown) => ({ error }),
  );
}

async function settled(outcome: Promise<FetchOutcome> | undefined): Promise<void> {
  await outcome;
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function runLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let index = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (index < items.length) {
      const item = items[index++]!;
      await task(item);
    }
  });
  await Promise.all(workers);
}

/** The loggable part of an error: class, code and retriable — never record contents. */
function describeError(err: unknown): {
  type: string;
  code?: string;
  retriable?: boolean;
  message?: string;
} {
  if (err instanceof TransportError)
    return { type: err.name, code: err.code, retriable: err.retriable, message: err.message };
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown };
    return {
      type: typeof e.name === 'string' ? e.name : 'Error',
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
    };
  }
  return { type: typeof err };
}
