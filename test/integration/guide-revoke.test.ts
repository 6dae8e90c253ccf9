/**
 * #21.4 and deliverable 1: docs/OPERATIONS.md step 5 as written — `keys revoke orders --kid … --topic
 * sealpost.directory` — with the `orders` producer sending throughout, the consumer and both workers
 * running. The guide's bound: within 5 s of the command returning, producers refuse to seal with the
 * key and consumers refuse records sealed with it.
 *
 * Invariant (from the ledger): no record created more than 5 s after the revocation was acknowledged;
 * nothing handed out more than 5 s after it; every acknowledged record was either handed out or
 * refused as HEADER (in quarantine, never both); the producer's only send error is POLICY_SENDER_REVOKED
 * (and, stopping it, EVENTS_NOT_FLUSHED: its last metadata events cannot be sealed with the revoked
 * key); both workers healthy.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { publicGenerations, readIdentityFile } from '../../src/keys/identity-file.js';
import { LiveServices } from '../support/live-services.js';
import { waitFor } from '../support/test-transport.js';

/** The bound docs/OPERATIONS.md states for a revocation (step 5, "Revocation"). */
const BOUND_MS = 5_000;
let live: LiveServices;

beforeAll(async () => {
  live = await LiveServices.prepare('revoke');
  await live.startAll();
}, 120_000);
afterAll(async () => {
  await live?.close();
});

describe('OPERATIONS.md step 5 under running services', () => {
  it('the revoked key is refused everywhere within the stated bound', async () => {
    await live.waitForHandOuts(20, 'traffic before the revocation');
    const file = await readIdentityFile(
      join(live.env.SEALPOST_KEYS_DIR!, 'orders.json'),
      await createCryptoProvider(),
    );
    const active = publicGenerations(file).find((g) => g.state === 'active')!;
    const kid = Buffer.from(active.signKid).toString('hex');
    const [revoke, ...more] = live.guide('5');
    expect(more).toEqual([]);
    const at = revoke!.indexOf('<signing-or-box-kid-hex>');
    expect(at).toBeGreaterThan(0);
    await live.mustRun(revoke!.map((a, i) => (i === at ? kid : a)));
    const revokedAt = Date.now();
    await waitFor(
      () => live.sendErrors.includes('POLICY_SENDER_REVOKED'),
      'the producer refusing the revoked key',
      60_000,
    );
    // The producer: nothing sealed later than the bound was acknowledged.
    expect(live.sent.filter((s) => s.createdAtMs > revokedAt + BOUND_MS)).toEqual([]);
    const report = await live.checkLedger({
      refusedReason: 'HEADER',
      // The revoked producer's last metadata events may reach the audit worker after the revocation.
      refusedMetadata: true,
      sendErrors: ['POLICY_SENDER_REVOKED'],
      // The revoked producer cannot seal the metadata events of its last acknowledged records.
      closeErrors: ['EVENTS_NOT_FLUSHED'],
    });
    expect([...live.handedOutAtMs].filter(([, ms]) => ms > revokedAt + BOUND_MS)).toEqual([]);
    expect(report.handedOut).toBeGreaterThanOrEqual(20);
  }, 180_000);
});
