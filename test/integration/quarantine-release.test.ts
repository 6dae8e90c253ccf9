/**
 * The quarantine round trip on the real stack: a record from a sender the consumer's directory does
 * not list yet is dead-lettered (HEADER) and quarantined by the dead-letter worker; once the
 * directory is fixed, `quarantine release` publishes the identical sealed bytes in a release signed by
 * the operator (docs/SPEC.md §11) and the consumer delivers the message exactly once — a second
 * release publishes nothing.
 */
import { describe, expect, it } from 'vitest';
import { operatorCliEnv } from '../support/release-operator.js';
import { runCli } from '../support/run-cli.js';
import { counterValue } from '../support/pipeline-world.js';
import { waitFor, waitForCommitted } from '../support/test-transport.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';
import { startQuarantine, unknownSender } from '../support/unknown-sender.js';

const sc = useScenario({
  purpose: 'q-release',
  clientId: 'quarantine-release',
  partitions: 2,
  // `ops` signs the releases (docs/SPEC.md §11).
  services: (names, defaults) => [
    ...withAuditAndDeadLetterWorker(names, defaults),
    { name: 'ops', send: [], receive: [] },
  ],
});
const { topic, transport } = sc;

describe('quarantine release after a directory fix (real stack)', () => {
  it('delivers a released record exactly once', async () => {
    // Billing's directory file does not list the sender `refunds` yet (test/support/unknown-sender.ts).
    const { billing, producer, fixDirectory } = await unknownSender(sc);
    const [sent] = await producer.send({
      topic,
      messages: [{ key: 'refund-1', value: { id: 'r-1', cents: -500, note: 'refund' } }],
    });
    await waitFor(
      async () => (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')) >= 1,
      'the unknown sender to be dead-lettered',
      60_000,
    );
    expect(billing.total()).toBe(0);

    // The dead-letter worker quarantines it.
    const { dbPath, store } = await startQuarantine(sc);
    await waitFor(
      async () => (await store.list({})).length === 1,
      'the dead letter in quarantine',
      30_000,
    );
    const entry = (await store.list({}))[0]!;
    expect(entry).toMatchObject({
      reason: 'HEADER',
      sourceTopic: topic,
      sourcePartition: sent!.partition,
      sourceOffset: sent!.offset,
      signatureVerified: true,
    });

    // Fix the directory, then release by reason through the CLI.
    await fixDirectory();
    const env = await operatorCliEnv(sc.world, 'ops', dbPath);
    const badName = await runCli(['quarantine', 'release', String(entry.id), '--by', ''], env);
    expect(badName.code).toBe(2);
    const first = await runCli(['quarantine', 'release', '--reason', 'HEADER', '--json'], env);
    expect(first.code).toBe(0);
    // Recorded as released by the operator identity that signed it.
    expect((await store.get(entry.id))?.releasedBy).toBe('ops');
    await waitFor(() => billing.total() >= 1, 'the released record to be delivered', 60_000);
    expect(billing.deliveries[0]).toMatchObject({
      sender: 'refunds',
      messageId: sent!.messageId,
      value: { id: 'r-1' },
    });

    // Releasing again publishes nothing; the message stays delivered once.
    const second = await runCli(['quarantine', 'release', String(entry.id), '--json'], env);
    expect(second.code).toBe(0);
    expect(second.out).toContain('already-released');
    expect((await store.get(entry.id))?.releasedBy).toBe('ops');
    // The second release wrote nothing (the CLI has exited: anything it produced was acknowledged):
    // the topic still ends after the one released record, and the consumer committed past it.
    const admin = transport.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const end = Object.fromEntries(ends.map((e) => [e.partition, BigInt(e.high)]));
    await waitForCommitted(transport, `billing-${topic}`, topic, end);
    expect(billing.total()).toBe(1);
    expect(billing.delivered.get(sent!.messageId)).toBe(1);
  });
});
