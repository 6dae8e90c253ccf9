/**
 * #21.5 on the real stack: a record from a sender the consumer's directory does not list yet is
 * dead-lettered (HEADER) and quarantined; released before the directory is fixed, it is dead-lettered
 * again. The new entry is linked to the released one (same record digest, same group): attempt 2,
 * flagged in `quarantine list`, and `release --reason HEADER` skips it instead of cycling it. After the
 * fix, releasing it by id delivers the message exactly once.
 *
 * Invariant (ledger): the record sent once is quarantined twice (one chain of entries), handed to the
 * application once, and the bulk release publishes nothing while its cause is not fixed.
 */
import { describe, expect, it } from 'vitest';
import { operatorCliEnv } from '../support/release-operator.js';
import { runCli } from '../support/run-cli.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';
import { startQuarantine, unknownSender } from '../support/unknown-sender.js';

const sc = useScenario({
  purpose: 'q-requar',
  clientId: 'quarantine-requarantine',
  partitions: 2,
  // `ops` signs the releases (docs/SPEC.md §11).
  services: (names, defaults) => [
    ...withAuditAndDeadLetterWorker(names, defaults),
    { name: 'ops', send: [], receive: [] },
  ],
});
const { topic } = sc;

describe('a released record whose cause was not fixed (real stack)', () => {
  it('comes back linked (attempt 2, flagged), is skipped by a bulk release, and is delivered once after the fix', async () => {
    // Billing's directory file does not list the sender `refunds` yet (test/support/unknown-sender.ts).
    const { billing, producer, fixDirectory } = await unknownSender(sc);
    const [sent] = await producer.send({
      topic,
      messages: [{ key: 'refund-1', value: { id: 'r-1', cents: -500, note: 'refund' } }],
    });

    const { dbPath, store } = await startQuarantine(sc);
    await waitFor(
      async () => (await store.list({ status: 'quarantined' })).length === 1,
      'the dead letter in quarantine',
      60_000,
    );
    const first = (await store.list({}))[0]!;
    expect(first).toMatchObject({ reason: 'HEADER', attempt: 1 });

    // Released before the directory is fixed: the consumer refuses it again.
    const env = await operatorCliEnv(sc.world, 'ops', dbPath);
    const early = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(early.code, early.err).toBe(0);
    await waitFor(
      async () => (await store.list({ status: 'quarantined' })).length === 1,
      'the released record back in quarantine',
      60_000,
    );
    const back = (await store.list({ status: 'quarantined' }))[0]!;
    expect(back).toMatchObject({
      reason: 'HEADER',
      sourceTopic: topic,
      valueHash: first.valueHash,
      attempt: 2,
      requarantinedFrom: first.id,
    });
    expect(back.sourceOffset).not.toBe(first.sourceOffset);
    const list = await runCli(['quarantine', 'list'], env);
    expect(list.out).toContain(`requarantined from ${first.id}`);

    // A bulk release by reason leaves it alone: nothing is published.
    const cycle = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(cycle.code, cycle.err).toBe(0);
    expect(JSON.parse(cycle.out)).toEqual([
      { id: back.id, outcome: 'skipped', requarantinedFrom: first.id, attempt: 2 },
    ]);
    expect((await store.get(back.id))!.status).toBe('quarantined');

    // Fixed: released by id, delivered once.
    await fixDirectory();
    const fixed = await runCli(['quarantine', 'release', String(back.id), '--json'], env);
    expect(fixed.code, fixed.err).toBe(0);
    await waitFor(() => billing.total() >= 1, 'the released record to be delivered', 60_000);
    expect(billing.delivered.get(sent!.messageId)).toBe(1);
    expect((await store.list({})).map((x) => x.status)).toEqual(['released', 'released']);
  });
});
