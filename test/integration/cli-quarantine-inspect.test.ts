import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewQuarantineEntry } from '../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../src/dlq/sqlite-quarantine-store.js';
import type { ConsumedRecord } from '../../src/kafka/transport.js';
import { getEndpoints } from '../support/endpoints.js';
import { readRaw } from '../support/pipeline-parties.js';
import { runCli } from '../support/run-cli.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'cli-q',
  clientId: 'cli-quarantine-it',
  topics: [
    { purpose: 'cli-q-data', partitions: 2 },
    { purpose: 'cli-q-released', partitions: 1 },
  ],
  pipelineTopics: false,
  producer: true,
  services: ({ topics: [data] }) => [
    { name: 'orders', send: [data!], receive: [] },
    { name: 'billing', send: [], receive: [data!] },
    { name: 'shipping', send: [], receive: [data!] },
  ],
});
const [data, released] = sc.topics as [string, string];
const { transport } = sc;

/**
 * `sealpost inspect` on a real sealed record and `sealpost quarantine` release/purge against a real
 * topic: a SealedProducer writes envelopes, the test quarantines one byte-exact, and the CLI releases
 * it back (once), then purges it.
 */
const MARKER = 'CLI-SECRET-MARKER-51c2';
let dir: string;
let env: Record<string, string>;
let sealed: ConsumedRecord;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-it-q-'));
  await sc.orders.producer.send({
    topic: data,
    messages: [0, 1, 2].map((i) => ({
      key: `k-${i}`,
      value: { id: `o-${i}`, cents: i, note: MARKER },
    })),
  });
  const records = await readRaw(transport, data, 3);
  sealed = records.find((r) => r.offset !== '0') ?? records[0]!;
  env = {
    KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
    SEALPOST_QUARANTINE_DB: join(dir, 'q.db'),
  };
}, 120_000);

afterAll(async () => {
  const admin = transport.admin();
  await admin.connect();
  await admin.deleteTopics([data, released]).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost inspect on the real stack', () => {
  it('reads one record by topic/partition/offset and shows its structure, no keys needed', async () => {
    const r = await runCli(
      [
        'inspect',
        '--topic',
        data,
        '--partition',
        String(sealed.partition),
        '--offset',
        sealed.offset,
        '--json',
      ],
      env,
    );
    expect(r.code, r.err).toBe(0);
    const view = JSON.parse(r.out) as {
      record: { offset: string; valueBytes: number };
      envelope: boolean;
      structure: {
        topic: string;
        recipientKids: string[];
        version: number;
        suite: number;
        seq: number;
        sizes: { total: number };
      };
    };
    expect(view.envelope).toBe(true);
    expect(view.record.offset).toBe(sealed.offset);
    expect(view.structure).toMatchObject({ topic: data, version: 1, suite: 1 });
    expect(view.structure.sizes.total).toBe(sealed.value!.length);
    const kids = ['billing', 'shipping'].map((n) =>
      Buffer.from(sc.world.files.get(n)!.generations[0]!.box.kid, 'hex').toString('hex'),
    );
    expect(view.structure.recipientKids.sort()).toEqual(kids.sort());
    expect(r.out).not.toContain(MARKER);
  }, 60_000);

  it('an offset beyond the partition end is a usage error naming the range', async () => {
    const r = await runCli(
      ['inspect', '--topic', data, '--partition', String(sealed.partition), '--offset', '999999'],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no record at .* the partition holds offsets/);
  }, 30_000);

  it('a topic that does not exist is a usage error (exit 2), not a retry', async () => {
    const r = await runCli(
      ['inspect', '--topic', `${data}-missing`, '--partition', '0', '--offset', '0'],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('check the topic name');
  }, 30_000);

  it('Kafka unreachable: exit 3 naming the fix', async () => {
    const r = await runCli(['inspect', '--topic', data, '--partition', '0', '--offset', '0'], {
      KAFKA_BROKERS: '127.0.0.1:1',
    });
    expect(r.code).toBe(3);
    expect(r.err).toContain('npm run stack -- up');
  }, 120_000);
});

describe('sealpost quarantine release/purge on the real stack', () => {
  const entry = (n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
    dlqTopic: 'cli-dlq',
    dlqPartition: 0,
    dlqOffset: String(n),
    reason: 'HEADER',
    sourceTopic: data,
    sourcePartition: sealed.partition,
    sourceOffset: sealed.offset,
    sourceTimestamp: String(sealed.timestampMs),
    consumerGroup: `billing-${n}`,
    consumer: 'billing',
    attempt: 1,
    key: sealed.key,
    value: sealed.value,
    headers: [{ key: 'x-trace', value: Buffer.from('t-1').toString('base64') }],
    valueHash: 'cd'.repeat(32),
    signatureVerified: true,
    arrivedAtMs: Date.now(),
    ...over,
  });

  it('list, show, release (byte-identical, idempotent), --to, refusal of unverified, purge', async () => {
    const store = new SqliteQuarantineStore(env.SEALPOST_QUARANTINE_DB!);
    await store.add([
      entry(0, { sourceTopic: released, sourcePartition: 0 }),
      entry(1),
      entry(2, { reason: 'unrecognised', signatureVerified: false }),
    ]);
    await store.close();

    const list = await runCli(['quarantine', 'list'], env);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(/1\s+HEADER\s+quarantined/);
    const show = await runCli(['quarantine', 'show', '1'], env);
    expect(show.code).toBe(0);
    expect(show.out).toContain(`topic              ${data}`);
    expect(show.out + list.out).not.toContain(MARKER);

    const r1 = await runCli(['quarantine', 'release', '1', '--json', '--raw'], env);
    expect(r1.code, r1.err).toBe(0);
    expect(JSON.parse(r1.out)).toEqual([
      { id: 1, outcome: 'released', topic: released, partition: 0, group: 'billing-0' },
    ]);
    const again = await runCli(['quarantine', 'release', '1', '--json', '--raw'], env);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.out) as { outcome: string }[])[0]!.outcome).toBe('already-released');
    const out = await readRaw(transport, released, 1);
    // Both CLI runs have exited: whatever they produced was acknowledged before they returned.
    const admin = transport.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(released);
    await admin.disconnect();
    expect(ends[0]!.high).toBe('1'); // released exactly once
    expect(Buffer.compare(out[0]!.value!, sealed.value!)).toBe(0);
    expect(out[0]!.key?.toString()).toBe(sealed.key?.toString());
    expect(out[0]!.headers).toEqual([{ key: 'x-trace', value: Buffer.from('t-1') }]);

    const to = await runCli(
      ['quarantine', 'release', '2', '--to', released, '--json', '--raw'],
      env,
    );
    expect(to.code, to.err).toBe(0);
    expect((JSON.parse(to.out) as { topic: string }[])[0]!.topic).toBe(released);

    const unverified = await runCli(
      ['quarantine', 'release', '--reason', 'unrecognised', '--raw'],
      env,
    );
    expect(unverified.code).toBe(1);
    expect(unverified.out).toContain('QUARANTINE_UNVERIFIED');

    const purge = await runCli(['quarantine', 'purge', '--reason', 'unrecognised', '--yes'], env);
    expect(purge.code).toBe(0);
    expect(purge.out).toContain('purged 1 entries');
    // Released entries are listed with --status all (the default lists what is still quarantined).
    expect(JSON.parse((await runCli(['quarantine', 'list', '--json'], env)).out)).toEqual([]);
    const left = JSON.parse(
      (await runCli(['quarantine', 'list', '--status', 'all', '--json'], env)).out,
    ) as {
      id: number;
      status: string;
    }[];
    expect(left.map((e) => [e.id, e.status])).toEqual([
      [1, 'released'],
      [2, 'released'],
    ]);
  }, 120_000);
});
