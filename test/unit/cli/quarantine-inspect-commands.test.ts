import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewQuarantineEntry } from '../../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import { loadProvider } from '../envelope/support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC } from '../envelope/support/world.js';
import { runCli } from '../../support/run-cli.js';

let dir: string;
let env: Record<string, string>;
let envelope: Uint8Array;
let recipientKids: string[];
const MARKER = 'PLAINTEXT-MARKER-7f3a';

const entry = (n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry => ({
  dlqTopic: 'sealpost.dead-letter',
  dlqPartition: 0,
  dlqOffset: String(n),
  reason: 'HEADER',
  sourceTopic: TOPIC,
  sourcePartition: 0,
  sourceOffset: String(100 + n),
  sourceTimestamp: '1750000000000',
  consumerGroup: 'billing',
  consumer: 'billing',
  attempt: 1,
  key: Buffer.from(`key-${n}`),
  value: envelope,
  headers: [{ key: 'trace', value: Buffer.from(MARKER).toString('base64') }],
  valueHash: 'ab'.repeat(32),
  signatureVerified: true,
  arrivedAtMs: Date.now() - n * 3_600_000,
  ...over,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-q-'));
  const p = await loadProvider('sodium-native');
  const w = makeWorld(p, ['alice', 'bob', 'carol']);
  const s = w.session('alice', ['bob', 'carol']);
  envelope = s.seal({
    partition: 0,
    seq: 5,
    key: null,
    schemaFp: SCHEMA_FP,
    contentType: 'x',
    payload: Buffer.from(MARKER),
  }).value;
  s.close();
  recipientKids = [w.id('bob').boxKid, w.id('carol').boxKid].map((k) =>
    Buffer.from(k).toString('hex'),
  );
  env = { SEALPOST_QUARANTINE_DB: join(dir, 'q.db') };
  const store = new SqliteQuarantineStore(env.SEALPOST_QUARANTINE_DB!);
  await store.add([
    entry(0),
    entry(1, { reason: 'MALFORMED', value: Buffer.from('{"not":"an envelope"}') }),
    entry(2, {
      reason: 'unrecognised',
      sourceTopic: null,
      sourcePartition: null,
      sourceOffset: null,
      signatureVerified: false,
    }),
    entry(30, { reason: 'STALE', sourceTopic: 'other.v1' }),
  ]);
  await store.close();
  await writeFile(join(dir, 'envelope.bin'), envelope);
  await writeFile(join(dir, 'garbage.bin'), Buffer.from('hello, not sealed'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost inspect (file)', () => {
  it('shows the structure of an envelope: kids, sizes, seq — and nothing of the plaintext', async () => {
    const r = await runCli(['inspect', '--file', join(dir, 'envelope.bin')]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/version\s+1/);
    expect(r.out).toMatch(/suite\s+1/);
    expect(r.out).toMatch(new RegExp(`topic\\s+${TOPIC.replace('.', '\\.')}`));
    expect(r.out).toMatch(/seq\s+5/);
    expect(r.out).toMatch(/tags\s+2/);
    expect(r.out).toMatch(/padded length\s+\d+/);
    for (const k of recipientKids) expect(r.out).toContain(k);
    expect(r.out).not.toContain(MARKER);
    const j = await runCli(
      ['inspect', '--file', '-', '--json'],
      {},
      { stdin: { text: Buffer.from(envelope).toString('latin1') } },
    );
    expect(j.code, j.err).toBe(0);
    const parsed = JSON.parse(j.out) as {
      envelope: boolean;
      structure: { recipientKids: string[]; sizes: { total: number } };
    };
    expect(parsed.envelope).toBe(true);
    expect(parsed.structure.recipientKids.sort()).toEqual([...recipientKids].sort());
    expect(parsed.structure.sizes.total).toBe(envelope.length);
  });

  it('not an envelope: a clear message and exit 1', async () => {
    const r = await runCli(['inspect', '--file', join(dir, 'garbage.bin')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a sealpost envelope \(BAD_MAGIC\)/);
  });

  it('bad input: neither or both sources, bad partition (exit 2)', async () => {
    const none = await runCli(['inspect']);
    expect(none.code).toBe(2);
    expect(none.err).toContain('either --file');
    const both = await runCli(['inspect', '--file', 'x', '--topic', 't']);
    expect(both.code).toBe(2);
    const partial = await runCli(['inspect', '--topic', 't', '--partition', '0']);
    expect(partial.code).toBe(2);
    expect(partial.err).toContain('--topic, --partition and --offset go together');
    const badOffset = await runCli([
      'inspect',
      '--topic',
      't',
      '--partition',
      '0',
      '--offset',
      '-1',
    ]);
    expect(badOffset.code).toBe(2);
    const missing = await runCli(['inspect', '--file', join(dir, 'nope.bin')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read');
  });
});

describe('sealpost quarantine (store only)', () => {
  it('list filters by reason, topic and age; table and JSON never show the bytes', async () => {
    const all = await runCli(['quarantine', 'list'], env);
    expect(all.code, all.err).toBe(0);
    expect(all.out.trim().split('\n')).toHaveLength(5);
    expect(all.out).not.toContain(MARKER);
    const header = await runCli(['quarantine', 'list', '--reason', 'HEADER', '--json'], env);
    expect((JSON.parse(header.out) as { reason: string }[]).map((e) => e.reason)).toEqual([
      'HEADER',
    ]);
    expect(header.out).not.toContain(MARKER);
    const topic = await runCli(['quarantine', 'list', '--topic', 'other.v1', '--json'], env);
    expect((JSON.parse(topic.out) as { sourceTopic: string }[]).map((e) => e.sourceTopic)).toEqual([
      'other.v1',
    ]);
    const old = await runCli(['quarantine', 'list', '--older-than', '1d', '--json'], env);
    expect((JSON.parse(old.out) as { reason: string }[]).map((e) => e.reason)).toEqual(['STALE']);
  });

  it('show prints metadata and the envelope structure, never the plaintext or header values', async () => {
    const r = await runCli(['quarantine', 'show', '1'], env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/reason\s+HEADER/);
    expect(r.out).toMatch(/consumerGroup\s+billing/);
    expect(r.out).toContain('envelope:');
    for (const k of recipientKids) expect(r.out).toContain(k);
    expect(r.out).not.toContain(MARKER);
    expect(r.out).not.toContain(Buffer.from(MARKER).toString('base64'));
    const g = await runCli(['quarantine', 'show', '2', '--json'], env);
    expect(g.code).toBe(0);
    expect(JSON.parse(g.out)).toMatchObject({
      reason: 'MALFORMED',
      envelope: { envelope: false, code: 'BAD_MAGIC' },
    });
  });

  it('purge refuses without --yes when stdin is not a terminal; asks on a terminal; deletes with --yes', async () => {
    const refused = await runCli(['quarantine', 'purge', '--reason', 'STALE'], env);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('confirm with --yes');
    const declined = await runCli(['quarantine', 'purge', '--reason', 'STALE'], env, {
      stdin: { isTTY: true, text: 'n\n' },
    });
    expect(declined.code).toBe(1);
    expect(declined.err).toContain('nothing purged');
    expect(
      (
        JSON.parse(
          (await runCli(['quarantine', 'list', '--reason', 'STALE', '--json'], env)).out,
        ) as unknown[]
      ).length,
    ).toBe(1);
    const confirmed = await runCli(['quarantine', 'purge', '--reason', 'STALE'], env, {
      stdin: { isTTY: true, text: 'y\n' },
    });
    expect(confirmed.code, confirmed.err).toBe(0);
    expect(confirmed.out).toContain('purged 1 entries');
    const byId = await runCli(['quarantine', 'purge', '--id', '3', '--yes', '--json'], env);
    expect(JSON.parse(byId.out)).toEqual({ purged: 1, ids: [3] });
    expect(
      (
        JSON.parse((await runCli(['quarantine', 'list', '--json'], env)).out) as { id: number }[]
      ).map((e) => e.id),
    ).toEqual([1, 2]);
  });

  const bad: [string, string[], RegExp][] = [
    [
      'list: unknown reason',
      ['quarantine', 'list', '--reason', 'BOGUS'],
      /Allowed choices are MALFORMED/,
    ],
    ['show: not an id', ['quarantine', 'show', 'abc'], /ID: "abc" is not a non-negative integer/],
    ['show: unknown id', ['quarantine', 'show', '999'], /no quarantine entry 999/],
    ['release: neither id nor reason', ['quarantine', 'release'], /either an entry ID or --reason/],
    ['release: unknown id', ['quarantine', 'release', '999'], /no quarantine entry 999/],
    ['purge: no selector', ['quarantine', 'purge', '--yes'], /say what to purge/],
    [
      'purge: bad age',
      ['quarantine', 'purge', '--older-than', 'ages', '--yes'],
      /--older-than.*not a duration/,
    ],
  ];
  for (const [title, argv, message] of bad) {
    it(`bad input — ${title} (exit 2)`, async () => {
      const r = await runCli(argv, env);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    });
  }

  it('a missing store is named with the fix (exit 2), and not created', async () => {
    const r = await runCli(['quarantine', 'list'], {
      SEALPOST_QUARANTINE_DB: join(dir, 'absent.db'),
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('SEALPOST_QUARANTINE_DB');
  });
});
