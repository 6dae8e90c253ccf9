/**
 * Issue #14.1: the receiver's key is rotated (the CLI's `keys rotate` on its identity file, then a
 * directory publish with the new key) while its consumer runs under load and a producer keeps sending
 * and re-reads the directory. Invariant, from the ledger of sent message ids: every record reaches the
 * handler (0 lost), none is dead-lettered, and the group's committed offsets reach the end of every
 * partition. A consumer given no identity source must not skip the records addressed to the new key
 * either: it waits and alerts RECIPIENT_KEY_MISSING.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Transport } from '../../src/kafka/transport.js';
import type { DirectoryRecordDraft } from '../../src/keys/directory/directory-signer.js';
import {
  publicGenerations,
  readIdentityFile,
  writeIdentityFile,
} from '../../src/keys/identity-file.js';
import { identityFileSource } from '../../src/keys/identity-source.js';
import { rotateIdentity } from '../../src/keys/operations.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const PARTITIONS = 3;
const sc = useScenario({
  purpose: 'pipe-rot',
  clientId: 'pipeline-key-rotation',
  partitions: PARTITIONS,
  services: (_, defaults) => [...defaults, { name: 'audit', send: [], receive: ['audit-topic'] }],
});
const { topic, t, transport } = sc;

async function offsets(
  tr: Transport,
  group: string,
): Promise<{ committed: Map<number, string>; end: Map<number, string>; dlq: bigint }> {
  const admin = tr.admin();
  await admin.connect();
  try {
    const committed = new Map(
      (await admin.fetchCommittedOffsets(group, [topic])).map((c) => [c.partition, c.offset]),
    );
    const end = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p.high]));
    const dlq = (await admin.fetchTopicOffsets(t.dlq)).reduce(
      (n, p) => n + BigInt(p.high) - BigInt(p.low),
      0n,
    );
    return { committed, end, dlq };
  } finally {
    await admin.disconnect();
  }
}

/** `directory publish` for one identity file: every generation as a record (docs/OPERATIONS.md). */
async function publishFrom(path: string, previous: DirectoryRecordDraft): Promise<void> {
  const file = await readIdentityFile(path, sc.world.crypto);
  await sc.world.change(
    publicGenerations(file)
      .filter((g) => g.state !== 'destroyed')
      .map((g) => ({
        ...previous,
        status: g.state === 'active' ? 'active' : 'retiring',
        boxKid: g.boxKid,
        boxPublicKey: g.boxPublicKey,
        signKid: g.signKid,
        signPublicKey: g.signPublicKey,
        validFromMs: g.createdAtMs - 60_000,
        retiredAtMs: g.state === 'active' ? null : (g.retiredAtMs ?? Date.now()),
      })),
  );
}

describe('receiver key rotation under a running consumer (#14.1)', () => {
  it('loses nothing: every record handed out, none dead-lettered, offsets committed to the end', async () => {
    const path = join(sc.world.dir, 'billing.identity.json');
    await writeIdentityFile(path, sc.world.files.get('billing')!, { overwrite: false });
    const common = {
      maxRetryDelayMs: 1000,
      commitEveryRecords: 100,
    };
    const alertsA: string[] = [];
    const a: TestConsumer = await sc.consumer('billing', {
      ...common,
      groupId: `billing-a-${topic}`,
      identitySource: identityFileSource(path, { crypto: sc.world.crypto, kms: sc.world.kms }),
      onAlert: (x) => alertsA.push(x.code),
    });
    const alertsB: string[] = [];
    const b: TestConsumer = await sc.consumer('billing', {
      ...common,
      groupId: `billing-b-${topic}`,
      onAlert: (x) => alertsB.push(x.code),
    });
    const orders = await sc.producer();

    const sent: string[] = [];
    const ROUNDS = 50;
    const PER_ROUND = 40;
    for (let round = 0; round < ROUNDS; round++) {
      if (round === ROUNDS / 2) {
        // Exactly as the CLI: `sealpost keys rotate` on the file, then `directory publish`.
        await rotateIdentity({
          path,
          crypto: sc.world.crypto,
          kms: sc.world.kms,
          clock: systemClock,
        });
        await publishFrom(path, sc.world.draft('billing'));
      }
      // The producer re-reads the directory as its auto-refresh would: it seals to the new key.
      await orders.directory.refresh();
      const results = await orders.producer.send({
        topic,
        messages: Array.from({ length: PER_ROUND }, (_, i) => ({
          key: `k-${round}-${i}`,
          value: { id: `r${round}-${i}`, cents: i, note: 'rotation' },
        })),
      });
      for (const r of results) sent.push(r.messageId);
    }
    expect(sent).toHaveLength(ROUNDS * PER_ROUND);

    await waitFor(
      () => sent.every((id) => a.delivered.has(id)),
      'every sent message handed out by the consumer with an identity source',
      90_000,
    );
    await waitFor(
      async () => {
        const o = await offsets(transport, `billing-a-${topic}`);
        return [...o.end].every(([p, high]) => o.committed.get(p) === high);
      },
      'committed offsets at the end of every partition',
      30_000,
    );
    const lost = sent.filter((id) => !a.delivered.has(id));
    expect(lost).toEqual([]);
    expect((await offsets(transport, `billing-a-${topic}`)).dlq).toBe(0n);
    expect(await counterValue(a.promRegistry, 'sealpost_skipped_not_addressed_total')).toBe(0);
    expect(alertsA).toEqual([]);

    // Without an identity source: the partition waits and alerts, nothing skipped or dead-lettered.
    // (Its missing hand-outs also show that the producer did seal to the new key only.)
    await waitFor(() => alertsB.includes('RECIPIENT_KEY_MISSING'), 'RECIPIENT_KEY_MISSING alert');
    // Each alert is counted for the operator's alerting too (docs/OPERATIONS.md, the alert table).
    const keyMissing = (): number => alertsB.filter((c) => c === 'RECIPIENT_KEY_MISSING').length;
    const counted = await counterValue(b.promRegistry, 'sealpost_consumer_alerts_total', {
      code: 'RECIPIENT_KEY_MISSING',
    });
    expect(counted).toBeGreaterThanOrEqual(1);
    expect(counted).toBeLessThanOrEqual(keyMissing());
    expect(await counterValue(a.promRegistry, 'sealpost_consumer_alerts_total')).toBe(0);
    expect(await counterValue(b.promRegistry, 'sealpost_skipped_not_addressed_total')).toBe(0);
    const ob = await offsets(transport, `billing-b-${topic}`);
    expect(ob.dlq).toBe(0n);
    expect(b.total()).toBeLessThan(sent.length);
    const endTotal = [...ob.end.values()].reduce((n, h) => n + BigInt(h), 0n);
    const committedTotal = [...ob.committed.values()].reduce(
      (n, c) => n + (BigInt(c) < 0n ? 0n : BigInt(c)),
      0n,
    );
    expect(committedTotal).toBeLessThan(endTotal);
  });
});
