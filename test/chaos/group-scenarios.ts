/**
 * The chaos scenario of issue #15 about the members of one recipient group: three billing members
 * share a topic of 6 partitions, each handling 3 partitions at once (`partitionsConsumedConcurrently`),
 * under live production, while shipping (one member) runs throughout. One member leaves cleanly
 * (SIGTERM → close), another is frozen (SIGSTOP) past its session timeout (10 s) and resumed (SIGCONT)
 * — fenced, its partitions handed to the others, and its stale commits must not move an offset past a
 * record the new owner has not handled — and then a member is added back. Besides the harness's final
 * check, the group's committed offsets are sampled every 2 s from the freeze to the end: each sample is
 * checked on the spot against the hand-outs recorded so far and written to the ledger
 * (`commit-samples.ledger`), so the checker's `commit-beyond` covers every sample too.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { stopChild, type Harness } from './harness.js';
import { LedgerWriter, readLedgers, type HandoutEntry } from './ledger.js';
import { fmt, measure, type Recovery, type Scenario } from './scenarios.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const PARTITIONS = 6;
const CONCURRENCY = 3;
/** The consumer's default session timeout (SealedConsumer `consumerOptions`). */
const SESSION_TIMEOUT_MS = 10_000;

async function waitUntil(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

const billingOuts = (h: Harness): HandoutEntry[] =>
  readLedgers(join(h.runDir, 'ledgers')).handouts.filter((x) => x.g === h.groupId('billing'));

/** The partitions `member` handed out in the `windowMs` before now. */
function recentPartitions(h: Harness, member: string, windowMs: number): number[] {
  const since = Date.now() - windowMs;
  return [
    ...new Set(
      billingOuts(h)
        .filter((x) => x.m === member && x.t >= since)
        .map((x) => x.p),
    ),
  ].sort((a, b) => a - b);
}

/**
 * Waits (bounded) until a member other than `member` has handed out a record on each of `partitions`
 * after `t`; returns ms from `t` to the first such hand-out and to the last partition's first one.
 */
async function takenOver(
  h: Harness,
  member: string,
  partitions: readonly number[],
  t: number,
  timeoutMs = 180_000,
): Promise<{ first: number | undefined; all: number | undefined }> {
  const firsts = new Map<number, number>();
  await waitUntil(() => {
    for (const x of billingOuts(h)) {
      if (x.m === member || x.t < t || !partitions.includes(x.p)) continue;
      const f = firsts.get(x.p);
      if (f === undefined || x.t < f) firsts.set(x.p, x.t);
    }
    return partitions.every((p) => firsts.has(p));
  }, timeoutMs);
  const times = [...firsts.values()];
  return {
    first: times.length === 0 ? undefined : Math.min(...times) - t,
    all: times.length < partitions.length ? undefined : Math.max(...times) - t,
  };
}

/** Samples billing's committed offsets every 2 s until stopped (see the file comment). */
function commitSampler(h: Harness): { stop(): Promise<void>; samples(): number } {
  const writer = new LedgerWriter(join(h.runDir, 'ledgers', 'commit-samples.ledger'));
  const g = h.groupId('billing');
  let running = true;
  let count = 0;
  const beyond: string[] = [];
  const loop = (async () => {
    while (running) {
      const a = h.transport.admin();
      try {
        await a.connect();
        const commits = await a.fetchCommittedOffsets(g, [h.topic]);
        // Read after the commits: every hand-out a commit covers was recorded before it.
        const outs = billingOuts(h);
        const t = Date.now();
        for (const c of commits) {
          if (c.offset === '-1') continue;
          count++;
          writer.append({ k: 'commit', g, p: c.partition, o: c.offset, t });
          const seen = new Set(outs.filter((x) => x.p === c.partition).map((x) => BigInt(x.o)));
          for (let o = 0n; o < BigInt(c.offset); o++)
            if (!seen.has(o)) {
              beyond.push(`${c.partition}/${c.offset} past ${c.partition}/${o}`);
              break;
            }
        }
      } catch (err) {
        h.log(`commit sample failed (${(err as Error).message}); next in 2 s`);
      } finally {
        await a.disconnect().catch(() => undefined);
      }
      await sleep(2000);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      writer.close();
      h.check(
        beyond.length === 0,
        `billing: no sampled commit past a record not yet handed out (${count} samples${beyond.length === 0 ? '' : `; ${beyond.slice(0, 5).join(', ')}`})`,
      );
    },
    samples: () => count,
  };
}

function recovery(
  r: Recovery,
  fault: string,
  taken: { first: number | undefined; all: number | undefined },
): Recovery {
  return {
    ...r,
    fault,
    toFirstHandoutMs: {
      ...r.toFirstHandoutMs,
      'billing, affected partitions by another member: first': taken.first,
      all: taken.all,
    },
  };
}

const groupMembers: Scenario = {
  name: 'group-members',
  summary: `three billing members on ${PARTITIONS} partitions (${CONCURRENCY} at once each): one leaves (SIGTERM), one frozen (SIGSTOP) past its ${SESSION_TIMEOUT_MS / 1000} s session then resumed, then one added back; shipping throughout`,
  partitions: PARTITIONS,
  prepare(h) {
    for (const g of ['billing', 'shipping'])
      h.consumerConfig.set(g, { partitionsConsumedConcurrently: CONCURRENCY });
    return Promise.resolve();
  },
  async run(h) {
    const out: Recovery[] = [];
    const members: ChildProcess[] = [h.consumers.get('billing')!];
    members.push(await h.startConsumer('billing'), await h.startConsumer('billing'));
    // A settled assignment: each member hands out, and no partition was handed out by two members,
    // in the last 3 s (so the partitions a member handed out lately are the ones it holds).
    const all = await waitUntil(() => {
      const since = Date.now() - 3_000;
      const recent = billingOuts(h).filter((x) => x.t >= since);
      const owner = new Map<number, string>();
      for (const x of recent) {
        if ((owner.get(x.p) ?? x.m) !== x.m) return false;
        owner.set(x.p, x.m);
      }
      const owners = new Set(owner.values());
      return ['billing-1', 'billing-2', 'billing-3'].every((m) => owners.has(m));
    }, 180_000);
    h.check(
      all,
      'the three billing members each hand out their own partitions (a settled assignment)',
    );
    await h.waitMoreAcks(200);

    // (a) billing-1 leaves cleanly.
    const leaving = recentPartitions(h, 'billing-1', 3_000);
    let t = Date.now();
    await stopChild(members[0]!);
    h.log(
      `(a) billing-1 closed (SIGTERM) in ${fmt(Date.now() - t)}; it held ${leaving.join(', ')}`,
    );
    let taken = await takenOver(h, 'billing-1', leaving, t);
    h.check(
      taken.all !== undefined,
      `(a) partitions ${leaving.join(', ')} handed out by the others`,
    );
    out.push(
      recovery(
        await measure(h, 'billing-1 leaves (SIGTERM)', t),
        'billing-1 leaves (SIGTERM → close)',
        taken,
      ),
    );
    await h.waitMoreAcks(200);

    // (b) billing-2 frozen past its session timeout, mid-batch under live production.
    const zombie = members[1]!;
    const frozen = recentPartitions(h, 'billing-2', 3_000);
    const sampler = commitSampler(h);
    t = Date.now();
    zombie.kill('SIGSTOP');
    h.log(`(b) billing-2 frozen (SIGSTOP, pid ${zombie.pid}); it held ${frozen.join(', ')}`);
    taken = await takenOver(h, 'billing-2', frozen, t);
    h.check(
      taken.all !== undefined,
      `(b) billing-2's partitions ${frozen.join(', ')} handed out by billing-3 while it is frozen`,
    );
    // The fault's duration (the scenario's definition): frozen for at least 1.5 session timeouts.
    const left = 1.5 * SESSION_TIMEOUT_MS - (Date.now() - t);
    if (left > 0) await sleep(left);
    const frozenMs = Date.now() - t;
    const beforeResume = billingOuts(h).filter((x) => x.m === 'billing-2').length;
    const resumedAt = Date.now();
    zombie.kill('SIGCONT');
    h.log(`(b) billing-2 resumed (SIGCONT) after ${fmt(frozenMs)}`);
    out.push(
      recovery(await measure(h, 'billing-2 frozen', t), `billing-2 frozen ${fmt(frozenMs)}`, taken),
    );
    // It rejoins: hands out again (a positive signal that its stale batch is over).
    const rejoined = await waitUntil(
      () => billingOuts(h).some((x) => x.m === 'billing-2' && x.t > resumedAt + 5_000),
      180_000,
    );
    h.check(rejoined, '(b) billing-2 hands out again after it resumed (rejoined the group)');
    const stale = billingOuts(h).filter(
      (x) => x.m === 'billing-2' && x.t >= resumedAt && x.t < resumedAt + 5_000,
    );
    h.log(
      `(b) billing-2: ${beforeResume} hand-outs before the freeze; ${stale.length} in the 5 s after SIGCONT (${stale.filter((x) => x.r).length} flagged)`,
    );
    await h.waitMoreAcks(200);

    // (c) a member added back.
    t = Date.now();
    const added = await h.startConsumer('billing');
    members.push(added);
    const joined = await waitUntil(
      () => billingOuts(h).some((x) => x.m === 'billing-4' && x.t >= t),
      180_000,
    );
    const firstOut = billingOuts(h).find((x) => x.m === 'billing-4');
    h.check(joined, '(c) billing-4 (added back) hands out');
    h.log(
      `(c) billing-4: first hand-out ${fmt(firstOut === undefined ? undefined : firstOut.t - t)} after its start began`,
    );
    const r = await measure(h, 'billing-4 added', t);
    out.push({
      ...r,
      toFirstHandoutMs: {
        ...r.toFirstHandoutMs,
        'billing-4 first hand-out': firstOut === undefined ? undefined : firstOut.t - t,
      },
    });
    await h.waitMoreAcks(200);
    await sampler.stop();
    h.log(`commit samples: ${sampler.samples()}`);
    h.check(zombie.exitCode === null, 'billing-2 still runs at the end');
    return out;
  },
};

export const groupScenarios: readonly Scenario[] = [groupMembers];
