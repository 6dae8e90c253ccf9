/**
 * The producer-kill chaos scenario in `npm test` (the others need the 3-broker cluster and minutes
 * each: `npm run chaos`). A real SealedProducer process is killed (-9) while it sends batches, a new
 * one takes over, and two recipient groups consume throughout in their own processes. Invariant,
 * checked from the fsynced delivery ledger (test/chaos/checker.ts): every acknowledged message id is
 * handed to both groups (acknowledged ⊆ handed out), nothing handed out was never sent, every repeat
 * is flagged, first hand-outs keep partition order, no commit passes an unaccounted record.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatVerdict } from '../chaos/checker.js';
import { makeHarness, type Harness } from '../chaos/harness.js';
import { producerKill } from '../chaos/scenarios.js';

const root = mkdtempSync(join(tmpdir(), 'sealpost-chaos-'));
let h: Harness | undefined;

afterAll(async () => {
  await h?.cleanup();
  rmSync(root, { recursive: true, force: true });
});

describe('chaos: producer killed mid-batch', () => {
  it('hands every acknowledged message to both groups; the ledger invariants hold', async () => {
    h = await makeHarness('producer-kill', root, { echo: false });
    for (const g of ['billing', 'shipping']) await h.startConsumer(g);
    await h.startProducer();
    const recoveries = await producerKill.run(h, { rounds: 1 });
    const verdict = await h.finish(120_000);
    expect(verdict.violations, formatVerdict(verdict)).toEqual([]);
    expect(verdict.counts.acknowledged).toBeGreaterThan(100);
    for (const g of Object.values(verdict.counts.groups)) {
      expect(g.lost).toBe(0);
      expect(g.handedOut).toBeGreaterThanOrEqual(verdict.counts.acknowledged);
    }
    // The new producer's records reached both groups.
    expect(recoveries[0]!.toFirstAckMs).toBeDefined();
    for (const ms of Object.values(recoveries[0]!.toFirstHandoutMs)) expect(ms).toBeDefined();
  }, 300_000);
});
