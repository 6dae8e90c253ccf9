/**
 * What a consumer group member can prove about its own membership (docs/OPERATIONS.md "Under
 * faults", the `group-members` row). The coordinator removes a member it has not heard from for the
 * session timeout (or that did not rejoin within the rebalance timeout) and only then gives its
 * partitions to another member. So when the coordinator answered a heartbeat sent at time `s` without
 * an error, no other member can own this member's partitions before `s + min(session, rebalance)`:
 * that is the member's lease. A process frozen (SIGSTOP, a VM or GC stall) past its session may
 * resume with a heartbeat answered before the freeze still in hand — kafkajs shares that heartbeat
 * with every caller and then sends no other for an interval — so the lease counts from when a
 * heartbeat was *sent*, never from when its answer was read.
 *
 * The lease also tells whether an assignment continues the previous one: a member keeps what it knew
 * about a partition across a rebalance only if it was a member of every generation in between (same
 * member id, and one sync answered since its previous assignment: a generation it joined but did not
 * sync is one whose assignment it never saw); otherwise another member may have handled the
 * partition meanwhile. Joins are not counted: a join refused because the coordinator moved forms no
 * generation.
 *
 * Times are read from a monotonic clock; request send times arrive as "answered `durationMs` after
 * it was sent" (kafkajs's request events), so a wall-clock step does not move the lease.
 */
export interface MembershipLeaseOptions {
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** The client's heartbeat interval: kafkajs sends at most one heartbeat per interval. */
  readonly heartbeatIntervalMs: number;
  /** Milliseconds from a monotonic clock. */
  readonly monoMs: () => number;
}

/** Why an assignment does not continue the previous one (see {@link MembershipLease.joined}). */
export type Discontinuity = 'left' | 'member-id-changed' | 'generation-missed' | undefined;

export class MembershipLease {
  readonly #monoMs: () => number;
  /** How long after a confirmed send the lease holds (the session less one heartbeat interval). */
  readonly leaseMs: number;
  readonly #heartbeatIntervalMs: number;
  /** Send time of the newest request the coordinator answered as to a member; undefined: none. */
  #confirmedAt: number | undefined;
  /** Send times of heartbeats answered since the last one known to have succeeded. */
  #answeredHeartbeats: number[] = [];
  #lastHeartbeatAt = Number.NEGATIVE_INFINITY;
  #lastSyncSentAt: number | undefined;
  #memberId: string | undefined;
  #left = false;
  #syncs = 0;
  #timeouts = 0;

  constructor(options: MembershipLeaseOptions) {
    this.#monoMs = options.monoMs;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs;
    const bound = Math.min(options.sessionTimeoutMs, options.rebalanceTimeoutMs);
    // One heartbeat interval of margin (the hand-out follows the check by a few steps), never less
    // than half the bound.
    this.leaseMs = Math.max(bound - options.heartbeatIntervalMs, bound / 2);
  }

  /** The coordinator answered a request of `apiName` sent `durationMs` ago. */
  answered(apiName: string, durationMs: number): void {
    const sentAt = this.#monoMs() - Math.max(0, durationMs);
    if (apiName === 'Heartbeat') this.#answeredHeartbeats.push(sentAt);
    else if (apiName === 'SyncGroup') {
      this.#syncs++;
      this.#lastSyncSentAt = sentAt;
    }
  }

  /** A request of `apiName` timed out (its answer, if any, is never read). */
  timedOut(apiName: string): void {
    if (apiName === 'JoinGroup' || apiName === 'SyncGroup') this.#timeouts++;
  }

  /**
   * A heartbeat succeeded (kafkajs's HEARTBEAT event). Which answered heartbeat it was is not said:
   * counting from the oldest one answered since the previous success is always safe.
   */
  heartbeatSucceeded(): void {
    this.#lastHeartbeatAt = this.#monoMs();
    if (this.#answeredHeartbeats.length === 0) return;
    const sentAt = Math.min(...this.#answeredHeartbeats);
    this.#answeredHeartbeats = [];
    if (this.#confirmedAt === undefined || sentAt > this.#confirmedAt) this.#confirmedAt = sentAt;
  }

  /**
   * The member joined and synced a generation as `memberId` (after `durationMs` of joining). The
   * lease restarts at the sync's send time. Returns why this assignment does not continue the
   * previous one, or undefined when it does (and for the first assignment).
   */
  joined(memberId: string, durationMs: number): Discontinuity {
    const first = this.#memberId === undefined;
    const discontinuity: Discontinuity = first
      ? undefined
      : this.#left
        ? 'left'
        : this.#memberId !== memberId
          ? 'member-id-changed'
          : this.#syncs !== 1 || this.#timeouts !== 0
            ? 'generation-missed'
            : undefined;
    this.#memberId = memberId;
    this.#left = false;
    this.#syncs = 0;
    this.#timeouts = 0;
    this.#answeredHeartbeats = [];
    this.#confirmedAt = this.#lastSyncSentAt ?? this.#monoMs() - Math.max(0, durationMs);
    this.#lastSyncSentAt = undefined;
    return discontinuity;
  }

  /** The member left the group (or its client stopped): nothing is held until it joins again. */
  left(): void {
    this.#left = true;
    this.#confirmedAt = undefined;
    this.#answeredHeartbeats = [];
  }

  /** Whether no other member can own this member's partitions now (see the file comment). */
  held(): boolean {
    return this.#confirmedAt !== undefined && this.#monoMs() - this.#confirmedAt < this.leaseMs;
  }

  /** How long until the client will send a new heartbeat (at most one per interval after a success). */
  nextHeartbeatInMs(): number {
    return Math.max(0, this.#lastHeartbeatAt + this.#heartbeatIntervalMs - this.#monoMs());
  }
}
