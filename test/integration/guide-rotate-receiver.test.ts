/**
 * #14.1 and deliverable 1: docs/OPERATIONS.md step 4 as written — `keys rotate billing`, then the same
 * publish — with the `orders` producer sending throughout and the `billing` consumer left running ("let
 * the directory refresh reach the billing consumers"), then step 6 as written (`destroy-retired billing
 * --retention 30d` and the publish it asks for): the key retired minutes ago is kept.
 *
 * Invariant (from the ledger): every record acknowledged before, during and after the rotation was
 * handed out (none skipped as not addressed to the consumer's key and committed), nothing
 * dead-lettered, no alert or send error, both workers healthy; no restart; the consumer's metadata
 * events, signed with billing's key, are acknowledged after its directory retired the old key.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { publicGenerations, readIdentityFile } from '../../src/keys/identity-file.js';
import { LiveServices } from '../support/live-services.js';
import { waitFor } from '../support/test-transport.js';

let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('rotate-receiver');
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

async function billingStates(): Promise<string[]> {
  const file = await readIdentityFile(
    join(live.env.SEALPOST_KEYS_DIR!, 'billing.json'),
    await createCryptoProvider(),
  );
  return publicGenerations(file).map((g) => g.state);
}

/** Waits until the producer acknowledged `n` records created after `fromMs`. */
async function ackedSince(fromMs: number, n: number, what: string): Promise<void> {
  await waitFor(
    () => live.sent.filter((s) => s.createdAtMs > fromMs).length >= n || live.sendErrors.length > 0,
    what,
    60_000,
  );
}

describe('OPERATIONS.md steps 4 and 6 for a receiving service, under running services', () => {
  it('the running consumer hands out every record across the rotation; destroy-retired keeps a fresh retiree', async () => {
    await live.waitForHandOuts(20, 'traffic before the rotation');
    const [rotate, publish] = live.guide('4');
    expect(rotate).toEqual(['keys', 'rotate', 'billing']);
    const epochBefore = live.consumerDirectoryEpoch();
    await live.mustRun(rotate!);
    await live.mustRun(publish!);
    const publishedAt = Date.now();
    expect((await billingStates()).sort()).toEqual(['active', 'retiring']);
    await ackedSince(publishedAt, 60, 'records sealed after the publish');

    // The consumer's own metadata events are signed by billing's key too: once its directory lists
    // the old key as retiring, they keep flowing (the events producer reloads the rotated file).
    await waitFor(
      () => live.consumerDirectoryEpoch() > epochBefore,
      'the consumer holds the published directory',
    );
    const afterAdoption = await live.nextAcked(
      'a record acknowledged after the consumer adopted it',
    );
    await live.consumerEventsSentFor(afterAdoption);

    const [destroy, republish] = live.guide('6');
    expect(destroy).toEqual(['keys', 'destroy-retired', 'billing', '--retention', '30d']);
    expect(await live.mustRun(destroy!)).toContain('nothing to destroy');
    await live.mustRun(republish!);
    expect((await billingStates()).sort()).toEqual(['active', 'retiring']);
    await ackedSince(Date.now(), 20, 'records sealed after step 6');

    const report = await live.checkLedger();
    expect(report.acked).toBeGreaterThan(100);
  }, 180_000);
});
