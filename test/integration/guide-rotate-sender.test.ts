/**
 * #21.2 and deliverable 1: docs/OPERATIONS.md step 4 for a sender, as written ("Rotating a **sender**
 * (`sealpost keys rotate orders`, then the same publish)"), under a running producer, consumer and both
 * workers. The producer (built as the guide says, with `identitySource`) opens a new session every 5 s,
 * and the traffic runs until sessions have been opened well after the retiring key's overlap ended.
 *
 * Invariant (from the ledger): every acknowledged record handed out, nothing dead-lettered (no session
 * signed by the retiring key after its overlap), no send error, both workers healthy; no restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveServices } from '../support/live-services.js';
import { guideParagraphCommands } from '../support/operations-guide.js';
import { waitFor } from '../support/test-transport.js';

/** The retiring key's overlap (docs/OPERATIONS.md step 4: retiredAt + skew, 60 s by default). */
const OVERLAP_MS = 60_000;
const SESSION_AGE_MS = 5_000;
let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('rotate-sender', {
    producer: { maxSessionAgeMs: SESSION_AGE_MS },
    sendIntervalMs: 100,
  });
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

describe('OPERATIONS.md step 4 for a sender, under running services', () => {
  it('the producer moves to the new key without a restart; nothing is dead-lettered', async () => {
    await live.waitForHandOuts(20, 'traffic before the rotation');
    const [rotate, ...more] = guideParagraphCommands('Rotating a **sender**');
    expect(rotate).toEqual(['keys', 'rotate', 'orders']);
    expect(more).toEqual([]);
    const [, publish] = live.guide('4');
    const rotatedAt = Date.now();
    await live.mustRun(rotate!);
    await live.mustRun(publish!);
    // Positive signal: the producer acknowledged records created after the overlap ended plus one
    // session age, so they were sealed in sessions opened after the overlap.
    await waitFor(
      () =>
        live.sent.some((s) => s.createdAtMs > rotatedAt + OVERLAP_MS + 2 * SESSION_AGE_MS) ||
        live.sendErrors.length > 0,
      'records sealed in sessions opened after the overlap',
      120_000,
    );
    const report = await live.checkLedger();
    expect(report.acked).toBeGreaterThan(100);
  }, 240_000);
});
