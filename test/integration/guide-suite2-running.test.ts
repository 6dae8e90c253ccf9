/**
 * docs/OPERATIONS.md "Post-quantum sealing (suite 2)", step c's remark: a producer and a consumer
 * already running with `SEALPOST_SUITE_POLICY=<orders>=allow` switch to suite 2 by themselves when the
 * receiver is rotated with `--xwing` and the directory published (block 1) — no restart: the producer's
 * sessions end on the directory change, the consumer reloads its identity file when the first record
 * names its new X-Wing kid.
 *
 * Invariant (from the ledger): every acknowledged record was handed out, nothing dead-lettered, no
 * alert or send error; records before the publish are suite 1, and from some point after it every
 * record is suite 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeSuiteOf } from '../../src/pipeline/envelope-suite.js';
import { LiveServices } from '../support/live-services.js';
import { readRaw } from '../support/pipeline-parties.js';
import { testTransport, waitFor } from '../support/test-transport.js';

let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('suite2-running');
  live.env.SEALPOST_SUITE_POLICY = `${live.topics.orders}=allow`;
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

describe('suite 2 reaches running services through a rotation', () => {
  it('the running producer switches to suite 2 and the running consumer opens it, without a restart', async () => {
    await live.waitForHandOuts(10, 'traffic before the rotation');
    const [rotate, publish] = live.guideSection('Post-quantum sealing (suite 2)', 1);
    await live.mustRun(rotate!);
    const beforePublish = live.sent.length;
    await live.mustRun(publish!);
    const publishedAt = live.sent.length;
    await waitFor(
      () =>
        live.sendErrors.length > 0 ||
        live.alerts.length > 0 ||
        (live.acked.length >= publishedAt + 40 &&
          live.acked.slice(publishedAt).every((id) => live.handedOut.has(id))),
      'records after the publish handed out',
      90_000,
    );
    const report = await live.checkLedger();
    expect(report.deadLetters).toEqual([]);

    const records = await readRaw(
      testTransport('guide-suite2-running'),
      live.topics.orders,
      live.sent.length,
    );
    const suiteAt = new Map(
      records.map((r) => [`${r.partition}:${r.offset}`, envelopeSuiteOf(r.value)]),
    );
    const suites = live.sent.map((s) => suiteAt.get(`${s.partition}:${s.offset}`));
    expect(suites.slice(0, beforePublish).every((s) => s === 1)).toBe(true);
    const firstSuite2 = suites.indexOf(2);
    expect(firstSuite2).toBeGreaterThanOrEqual(beforePublish);
    expect(suites.slice(firstSuite2).every((s) => s === 2)).toBe(true);
    expect(suites.length - firstSuite2).toBeGreaterThanOrEqual(20);
  }, 300_000);
});
