/**
 * The membership lease of a group member (src/kafka/membership-lease.ts; docs/OPERATIONS.md "Under
 * faults", group-members): counted from when a heartbeat was sent, never from when its answer was
 * read, so a heartbeat answered before a freeze and read after it proves nothing about the time after.
 */
import { describe, expect, it } from 'vitest';
import { MembershipLease } from '../../../src/kafka/membership-lease.js';

function lease(): { l: MembershipLease; advance: (ms: number) => void } {
  let now = 1_000;
  const l = new MembershipLease({
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 60_000,
    heartbeatIntervalMs: 1_000,
    monoMs: () => now,
  });
  return { l, advance: (ms) => (now += ms) };
}

describe('MembershipLease', () => {
  it('holds from the sync until the session less one heartbeat interval, renewed by heartbeats', () => {
    const { l, advance } = lease();
    expect(l.held()).toBe(false);
    l.answered('JoinGroup', 30);
    l.answered('SyncGroup', 20);
    expect(l.joined('m1', 60)).toBeUndefined();
    expect(l.leaseMs).toBe(9_000);
    advance(8_970);
    expect(l.held()).toBe(true);
    // A heartbeat sent now, answered 30 ms later.
    advance(30);
    l.answered('Heartbeat', 30);
    l.heartbeatSucceeded();
    advance(8_960);
    expect(l.held()).toBe(true);
    advance(20);
    expect(l.held()).toBe(false);
  });

  it('a heartbeat answered before a 15 s freeze and read after it does not renew the lease', () => {
    const { l, advance } = lease();
    l.answered('SyncGroup', 10);
    l.joined('m1', 20);
    advance(2_000);
    // Sent, answered by the broker at once — but the process is frozen before it reads the answer.
    advance(15_000);
    l.answered('Heartbeat', 15_000);
    l.heartbeatSucceeded();
    expect(l.held()).toBe(false);
    // kafkajs sends its next heartbeat only an interval after that success.
    expect(l.nextHeartbeatInMs()).toBe(1_000);
    advance(1_000);
    expect(l.nextHeartbeatInMs()).toBe(0);
    l.answered('Heartbeat', 5);
    l.heartbeatSucceeded();
    expect(l.held()).toBe(true);
  });

  it('one success reported for several answered heartbeats counts from the oldest', () => {
    const { l, advance } = lease();
    l.answered('SyncGroup', 0);
    l.joined('m1', 0);
    advance(3_000);
    l.answered('Heartbeat', 0); // at 3 s: its answer an error (no success event)
    advance(9_000);
    l.answered('Heartbeat', 0); // at 12 s
    l.heartbeatSucceeded();
    expect(l.held()).toBe(false); // counted from 3 s
  });

  it('tells whether an assignment continues the previous one', () => {
    const { l } = lease();
    l.answered('JoinGroup', 1);
    l.answered('JoinGroup', 1); // MEMBER_ID_REQUIRED, then the join
    l.answered('SyncGroup', 1);
    expect(l.joined('m1', 5)).toBeUndefined(); // the first assignment
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m1', 5)).toBeUndefined(); // one join, one sync, same member
    l.answered('JoinGroup', 1); // refused: NOT_COORDINATOR (the coordinator moved)
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m1', 5)).toBeUndefined();
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1); // refused: a new rebalance began (no assignment seen)
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m1', 5)).toBe('generation-missed');
    l.answered('JoinGroup', 1);
    l.timedOut('SyncGroup');
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m1', 5)).toBe('generation-missed');
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m2', 5)).toBe('member-id-changed');
    l.left();
    expect(l.held()).toBe(false);
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m2', 5)).toBe('left');
    l.answered('JoinGroup', 1);
    l.answered('SyncGroup', 1);
    expect(l.joined('m2', 5)).toBeUndefined();
  });
});
