/**
 * docs/OPERATIONS.md "Post-quantum sealing (suite 2)" as written, under running services: the receiver
 * rotates with `--xwing` and the directory is published (block 1), the consumer and then the producer
 * restart with `SEALPOST_SUITE_POLICY=<orders>=allow` (steps b, c), then both with `require` (step d),
 * and a producer left on the classical policy tries to write one record.
 *
 * Invariant (from the ledger): every record the running producer had acknowledged — before, during and
 * after the switch — was handed out; the records sealed before the producer's switch are suite 1 and
 * every one after it suite 2; the one classical record written under `require` is the only dead letter
 * (`CONTEXT`), never handed out; no alert or send error; both workers healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envelopeSuiteOf } from '../../src/pipeline/envelope-suite.js';
import { LiveServices } from '../support/live-services.js';
import { readRaw } from '../support/pipeline-parties.js';
import { testTransport, waitFor } from '../support/test-transport.js';

let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('suite2');
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

/** Waits until the producer has acknowledged `n` more records than `from`, and they were handed out. */
async function moreHandedOut(from: number, n: number, what: string): Promise<void> {
  await waitFor(
    () =>
      live.sendErrors.length > 0 ||
      (live.acked.length >= from + n &&
        live.acked.slice(from).every((id) => live.handedOut.has(id))),
    what,
    60_000,
  );
}

describe('OPERATIONS.md "Post-quantum sealing (suite 2)", under running services', () => {
  it('switches the orders topic to suite 2 without losing a record, then refuses a classical one', async () => {
    await live.waitForHandOuts(10, 'traffic before the switch');
    const [rotate, publish] = live.guideSection('Post-quantum sealing (suite 2)', 1);
    expect(rotate).toEqual(['keys', 'rotate', 'billing', '--xwing']);
    await live.mustRun(rotate!);
    await live.mustRun(publish!);
    const shown = await live.mustRun(['directory', 'show', '--json']);
    const billing = (
      JSON.parse(shown) as { records: { identity: string; status: string; kemKid?: string }[] }
    ).records.filter((r) => r.identity === 'billing' && r.status === 'active');
    expect(billing).toHaveLength(1);
    expect(billing[0]!.kemKid).toMatch(/^[0-9a-f]{32}$/);

    // b. Consumers first, c. then the producer.
    live.env.SEALPOST_SUITE_POLICY = `${live.topics.orders}=allow`;
    await live.stopConsumer();
    await live.startConsumer();
    await moreHandedOut(live.acked.length, 10, 'records after the consumer restart');
    await live.stopProducer();
    const switchedAt = live.sent.length;
    await live.startProducer();
    await moreHandedOut(switchedAt, 30, 'records sealed after the producer switched');

    // d. require: consumers, then the producer.
    live.env.SEALPOST_SUITE_POLICY = `${live.topics.orders}=require`;
    await live.stopConsumer();
    await live.startConsumer();
    await live.stopProducer();
    const requiredAt = live.sent.length;
    await live.startProducer();
    await moreHandedOut(requiredAt, 20, 'records under require');
    // A producer that never got the policy (built without it: classical) writes one record.
    const downgrade = await live.sendOnceAs('orders');

    const report = await live.checkLedger({ deadLetterReasons: ['CONTEXT'] });
    expect(report.acked).toBe(live.sent.length);
    expect(report.deadLetters.map((d) => [d.sourcePartition, d.sourceOffset])).toEqual([
      [downgrade.partition, downgrade.offset],
    ]);
    expect(live.handedOut.has(downgrade.messageId)).toBe(false);

    const transport = testTransport('guide-suite2-read');
    const records = await readRaw(transport, live.topics.orders, live.sent.length + 1);
    const suiteAt = new Map(
      records.map((r) => [`${r.partition}:${r.offset}`, envelopeSuiteOf(r.value)]),
    );
    const suites = live.sent.map((s) => suiteAt.get(`${s.partition}:${s.offset}`));
    expect(suites.slice(0, switchedAt).every((s) => s === 1)).toBe(true);
    expect(suites.slice(switchedAt).every((s) => s === 2)).toBe(true);
    expect(suites.length - switchedAt).toBeGreaterThanOrEqual(50);
    expect(suiteAt.get(`${downgrade.partition}:${downgrade.offset}`)).toBe(1);
  }, 300_000);
});
