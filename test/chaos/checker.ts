/**
 * The checker of a delivery ledger (issue #15 deliverable 3). For each recipient group it verifies:
 *
 * - `lost`: every acknowledged message id was handed to the group at least once, or dead-lettered by
 *   the group (at the acknowledged partition/offset) with a class;
 * - `never-sent`: nothing was handed out whose payload id the producer never tried to send, nor with a
 *   payload other than the one acknowledged under that message id;
 * - `unflagged-repeat`: every hand-out of a message id the group had handed out before carries the
 *   possible-redelivery flag;
 * - `order`: per partition, the first hand-outs follow the offsets (no record first handed out after a
 *   later one of its partition);
 * - `commit-beyond`: no committed offset lies beyond a record the group neither handed out nor
 *   dead-lettered. The topic is written only by the scenario's idempotent, non-transactional producer,
 *   so its offsets are contiguous from 0: every offset below a commit must be accounted for. A record
 *   acknowledged under a message id the group handed out at another offset is accounted for too: it
 *   is the copy a `resend()` after SEND_FAILED wrote when the first attempt had been written after all,
 *   and the consumer drops it as a DUPLICATE (docs/SPEC.md §6: not delivered, not dead-lettered). So
 *   is a record no ack names whose bytes the runner found to be those of an acknowledged message
 *   (`copy` entries): an attempt of the same send written although it failed — there can be several
 *   (one per attempt whose append succeeded while its acknowledgement did not).
 *
 * Hand-outs of several processes are merged by their time stamps (file order within one process).
 */
import type { Ledger, HandoutEntry } from './ledger.js';

export type Invariant = 'lost' | 'never-sent' | 'unflagged-repeat' | 'order' | 'commit-beyond';

export interface Violation {
  readonly invariant: Invariant;
  readonly group: string;
  readonly detail: string;
}

export interface GroupCounts {
  /** Distinct message ids handed out. */
  handedOut: number;
  /** Hand-outs of an id handed out before. */
  repeats: number;
  /** Repeats carrying the redelivery flag. */
  flaggedRepeats: number;
  /** First hand-outs flagged anyway (allowed: a hint, not a promise). */
  flaggedFirsts: number;
  deadLettered: number;
  /** Acknowledged ids neither handed out nor dead-lettered. */
  lost: number;
}

export interface Verdict {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly counts: {
    readonly tried: number;
    readonly acknowledged: number;
    readonly sendFailed: number;
    /** Ids handed out though never acknowledged (the producer died before the ack). */
    readonly handedOutUnacknowledged: number;
    readonly groups: Readonly<Record<string, GroupCounts>>;
  };
}

const coord = (p: number, o: string | bigint): string => `${p}/${o}`;

/** Checks a ledger for the given recipient groups (see the file comment). */
export function checkLedger(ledger: Ledger, groups: readonly string[]): Verdict {
  const violations: Violation[] = [];
  const tried = new Set(ledger.tries.flatMap((t) => t.n));
  const acked = new Map<string, { n?: string; p: number; o: string }>();
  for (const a of ledger.acks) if (!acked.has(a.id)) acked.set(a.id, a);
  // Every acknowledged coordinate → its message id (a resent copy has its own coordinate).
  const idAt = new Map<string, string>();
  for (const a of ledger.acks) idAt.set(coord(a.p, a.o), a.id);
  for (const c of ledger.copies) if (!idAt.has(coord(c.p, c.o))) idAt.set(coord(c.p, c.o), c.id);
  const unackedHanded = new Set<string>();
  const counts: Record<string, GroupCounts> = {};

  for (const g of groups) {
    const c: GroupCounts = {
      handedOut: 0,
      repeats: 0,
      flaggedRepeats: 0,
      flaggedFirsts: 0,
      deadLettered: 0,
      lost: 0,
    };
    counts[g] = c;
    const outs = mergeByTime(ledger.handouts.filter((h) => h.g === g));
    const dead = new Set(ledger.dead.filter((d) => d.g === g).map((d) => coord(d.p, d.o)));
    c.deadLettered = dead.size;
    const seen = new Set<string>();
    const handedAt = new Set<string>();
    const lastFirst = new Map<number, bigint>();
    for (const h of outs) {
      handedAt.add(coord(h.p, h.o));
      if (!tried.has(h.n)) {
        violations.push({
          invariant: 'never-sent',
          group: g,
          detail: `${h.id} (payload ${h.n}) at ${coord(h.p, h.o)} was never sent`,
        });
      }
      const a = acked.get(h.id);
      if (a === undefined) unackedHanded.add(h.id);
      else if (a.n !== undefined && a.n !== h.n) {
        violations.push({
          invariant: 'never-sent',
          group: g,
          detail: `${h.id} handed out with payload ${h.n}, acknowledged with ${a.n}`,
        });
      }
      if (seen.has(h.id)) {
        c.repeats++;
        if (h.r) c.flaggedRepeats++;
        else {
          violations.push({
            invariant: 'unflagged-repeat',
            group: g,
            detail: `${h.id} at ${coord(h.p, h.o)} handed out again by ${h.m} without the redelivery flag`,
          });
        }
        continue;
      }
      seen.add(h.id);
      if (h.r) c.flaggedFirsts++;
      const o = BigInt(h.o);
      const prev = lastFirst.get(h.p);
      if (prev !== undefined && o < prev) {
        violations.push({
          invariant: 'order',
          group: g,
          detail: `partition ${h.p}: offset ${o} first handed out after offset ${prev}`,
        });
      }
      if (prev === undefined || o > prev) lastFirst.set(h.p, o);
    }
    c.handedOut = seen.size;
    for (const [id, a] of acked) {
      if (seen.has(id) || dead.has(coord(a.p, a.o))) continue;
      c.lost++;
      violations.push({
        invariant: 'lost',
        group: g,
        detail: `${id} (payload ${a.n ?? '?'}, acknowledged at ${coord(a.p, a.o)}) never handed out nor dead-lettered`,
      });
    }
    for (const cm of ledger.commits.filter((x) => x.g === g)) {
      const upTo = BigInt(cm.o);
      for (let o = 0n; o < upTo; o++) {
        const at = coord(cm.p, o);
        if (handedAt.has(at) || dead.has(at)) continue;
        const copyOf = idAt.get(at);
        if (copyOf !== undefined && seen.has(copyOf)) continue; // a DUPLICATE, dropped by design
        violations.push({
          invariant: 'commit-beyond',
          group: g,
          detail: `committed ${coord(cm.p, upTo)} beyond ${at}, neither handed out nor dead-lettered`,
        });
        break;
      }
    }
  }
  return {
    ok: violations.length === 0,
    violations,
    counts: {
      tried: tried.size,
      acknowledged: acked.size,
      sendFailed: ledger.fails.length,
      handedOutUnacknowledged: unackedHanded.size,
      groups: counts,
    },
  };
}

/** Hand-outs ordered by time stamp; equal stamps keep their ledger order (stable sort). */
function mergeByTime(outs: readonly HandoutEntry[]): HandoutEntry[] {
  return outs
    .map((h, i) => ({ h, i }))
    .sort((a, b) => a.h.t - b.h.t || a.i - b.i)
    .map((x) => x.h);
}

/** The verdict as text: PASS/FAIL, counts, and the first violations of each invariant. */
export function formatVerdict(v: Verdict, perInvariant = 5): string {
  const lines = [`verdict: ${v.ok ? 'PASS' : 'FAIL'} (${v.violations.length} violation(s))`];
  const c = v.counts;
  lines.push(
    `  producer: ${c.tried} tried, ${c.acknowledged} acknowledged, ${c.sendFailed} SEND_FAILED; ` +
      `${c.handedOutUnacknowledged} handed out without an ack`,
  );
  for (const [g, gc] of Object.entries(c.groups)) {
    lines.push(
      `  group ${g}: ${gc.handedOut} handed out, ${gc.repeats} repeats (${gc.flaggedRepeats} flagged), ` +
        `${gc.flaggedFirsts} first hand-outs flagged, ${gc.deadLettered} dead-lettered, ${gc.lost} lost`,
    );
  }
  const by = new Map<Invariant, Violation[]>();
  for (const x of v.violations) by.set(x.invariant, [...(by.get(x.invariant) ?? []), x]);
  for (const [inv, xs] of by) {
    lines.push(`  ${inv}: ${xs.length}`);
    for (const x of xs.slice(0, perInvariant)) lines.push(`    [${x.group}] ${x.detail}`);
  }
  return lines.join('\n');
}
