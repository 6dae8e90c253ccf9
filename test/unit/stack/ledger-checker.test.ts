/**
 * The delivery-ledger checker on hand-made ledgers: a clean one passes; each invariant violated once
 * is reported once, under its own name. And the ledger files: durable appends, a cut last line ignored.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLedger, formatVerdict } from '../../chaos/checker.js';
import {
  emptyLedger,
  LedgerWriter,
  readLedgers,
  type HandoutEntry,
  type Ledger,
} from '../../chaos/ledger.js';

const G = ['billing', 'shipping'];
const msgs = [
  { id: 'a0', n: 'n0', p: 0, o: '0' },
  { id: 'a1', n: 'n1', p: 0, o: '1' },
  { id: 'b0', n: 'n2', p: 1, o: '0' },
  { id: 'b1', n: 'n3', p: 1, o: '1' },
];

function out(g: string, i: number, t: number, r = false): HandoutEntry {
  const m = msgs[i]!;
  return { k: 'out', g, m: `${g}-1`, id: m.id, n: m.n, p: m.p, o: m.o, r, t };
}

/** Both groups get every message once, in order; both commit everything. */
function clean(): Ledger {
  const l = emptyLedger();
  l.tries.push({ k: 'try', n: msgs.map((m) => m.n), t: 1 });
  for (const m of msgs) l.acks.push({ k: 'ack', ...m, t: 2 });
  for (const g of G) {
    msgs.forEach((_, i) => l.handouts.push(out(g, i, 10 + i)));
    for (const p of [0, 1]) l.commits.push({ k: 'commit', g, p, o: '2', t: 20 });
  }
  return l;
}

function only(l: Ledger): { invariant: string; group: string }[] {
  return checkLedger(l, G).violations.map((v) => ({ invariant: v.invariant, group: v.group }));
}

describe('delivery ledger checker', () => {
  it('passes a clean ledger and counts it', () => {
    const v = checkLedger(clean(), G);
    expect(v.violations).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.counts.acknowledged).toBe(4);
    expect(v.counts.groups.billing!.handedOut).toBe(4);
    expect(formatVerdict(v)).toContain('verdict: PASS');
  });

  it('lost: an acknowledged id one group never got', () => {
    const l = clean();
    l.handouts.splice(
      l.handouts.findIndex((h) => h.g === 'shipping' && h.id === 'b1'),
      1,
    );
    l.commits.splice(
      l.commits.findIndex((c) => c.g === 'shipping' && c.p === 1),
      1,
    );
    expect(only(l)).toEqual([{ invariant: 'lost', group: 'shipping' }]);
    expect(formatVerdict(checkLedger(l, G))).toContain('verdict: FAIL');
  });

  it('a dead-lettered record (with its class) is not lost', () => {
    const l = clean();
    l.handouts.splice(
      l.handouts.findIndex((h) => h.g === 'shipping' && h.id === 'b1'),
      1,
    );
    l.dead.push({ k: 'dead', g: 'shipping', p: 1, o: '1', c: 'malformed', t: 15 });
    expect(only(l)).toEqual([]);
    expect(checkLedger(l, G).counts.groups.shipping!.deadLettered).toBe(1);
  });

  it('never-sent: a hand-out whose payload was never tried', () => {
    const l = clean();
    l.handouts.push({ ...out('billing', 3, 30), id: 'zz', n: 'n-unknown', o: '2' });
    expect(only(l)).toEqual([{ invariant: 'never-sent', group: 'billing' }]);
  });

  it('never-sent: an acknowledged id handed out with another payload', () => {
    const l = clean();
    l.tries.push({ k: 'try', n: ['n9'], t: 1 });
    const i = l.handouts.findIndex((h) => h.g === 'billing' && h.id === 'a1');
    l.handouts[i] = { ...l.handouts[i]!, n: 'n9' };
    expect(only(l)).toEqual([{ invariant: 'never-sent', group: 'billing' }]);
  });

  it('unflagged-repeat: a second hand-out without the redelivery flag; flagged is fine', () => {
    const l = clean();
    l.handouts.push(out('billing', 1, 30, true));
    expect(only(l)).toEqual([]);
    l.handouts.push(out('billing', 0, 31, false));
    expect(only(l)).toEqual([{ invariant: 'unflagged-repeat', group: 'billing' }]);
  });

  it('order: a partition whose first hand-outs go backwards (merged across members by time)', () => {
    const l = clean();
    const a0 = l.handouts.findIndex((h) => h.g === 'shipping' && h.id === 'a0');
    const a1 = l.handouts.findIndex((h) => h.g === 'shipping' && h.id === 'a1');
    // a1 first handed out (by another member) before a0.
    l.handouts[a1] = { ...l.handouts[a1]!, m: 'shipping-2', t: 5 };
    expect(a0).toBeGreaterThanOrEqual(0);
    expect(only(l)).toEqual([{ invariant: 'order', group: 'shipping' }]);
  });

  it('commit-beyond: a committed offset past a record neither handed out nor dead-lettered', () => {
    const l = clean();
    // billing committed partition 1 up to 3, but offset 2 (never acknowledged: the producer died) was
    // never handed out.
    l.commits.push({ k: 'commit', g: 'billing', p: 1, o: '3', t: 40 });
    expect(only(l)).toEqual([{ invariant: 'commit-beyond', group: 'billing' }]);
  });

  it('a resent copy (same message id, later offset) dropped as a DUPLICATE is accounted for', () => {
    const l = clean();
    // The first attempt of a1 was written at 0/1 but its ack was lost (SEND_FAILED); resend() wrote
    // the same sealed bytes again at 0/2, and that ack is the one recorded.
    l.acks.push({ k: 'ack', id: 'a1', p: 0, o: '2', t: 3 });
    for (const g of G) l.commits.push({ k: 'commit', g, p: 0, o: '3', t: 40 });
    expect(only(l)).toEqual([]);
    // A copy of an id the group never handed out is not accounted for.
    l.acks.push({ k: 'ack', id: 'zz', p: 0, o: '3', t: 3 });
    l.tries.push({ k: 'try', n: ['nz'], t: 1 });
    l.handouts.push({ ...out('billing', 0, 50), id: 'zz', n: 'nz', o: '3' });
    l.commits.push({ k: 'commit', g: 'shipping', p: 0, o: '4', t: 60 });
    expect(only(l).filter((v) => v.invariant === 'commit-beyond')).toEqual([
      { invariant: 'commit-beyond', group: 'shipping' },
    ]);
  });

  it('copies an earlier attempt wrote (no ack names them; the runner found their bytes) are accounted for', () => {
    const l = clean();
    // Three attempts of one send wrote a1 at 0/1, 0/2 and 0/3; only the last was acknowledged.
    l.acks.splice(
      l.acks.findIndex((a) => a.id === 'a1'),
      1,
      { k: 'ack', id: 'a1', p: 0, o: '3', t: 3 },
    );
    for (const g of G) l.commits.push({ k: 'commit', g, p: 0, o: '4', t: 40 });
    // Without the copy entry 0/2 is unaccounted for (the first copy, 0/1, was handed out).
    expect(only(l)).toEqual([
      { invariant: 'commit-beyond', group: 'billing' },
      { invariant: 'commit-beyond', group: 'shipping' },
    ]);
    l.copies.push({ k: 'copy', id: 'a1', p: 0, o: '2', t: 41 });
    expect(only(l)).toEqual([]);
    // A copy of a message the group never handed out stays unaccounted for.
    l.copies.push({ k: 'copy', id: 'never', p: 1, o: '2', t: 41 });
    l.commits.push({ k: 'commit', g: 'billing', p: 1, o: '3', t: 42 });
    expect(only(l)).toEqual([{ invariant: 'commit-beyond', group: 'billing' }]);
  });

  it('ledger files: appends are durable lines; a last line cut by a kill is ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sealpost-ledger-'));
    try {
      const w = new LedgerWriter(join(dir, 'producer.ledger'));
      w.append({ k: 'try', n: ['n0'], t: 1 }, { k: 'ack', id: 'a0', n: 'n0', p: 0, o: '0', t: 2 });
      w.close();
      const c = new LedgerWriter(join(dir, 'billing-1.ledger'));
      c.append(out('billing', 0, 3));
      c.close();
      appendFileSync(join(dir, 'billing-1.ledger'), '{"k":"out","g":"bil');
      const l = readLedgers(dir);
      expect(l.tries).toHaveLength(1);
      expect(l.acks).toHaveLength(1);
      expect(l.handouts).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
