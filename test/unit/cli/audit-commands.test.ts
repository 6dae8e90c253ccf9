import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import {
  auditEvent,
  makeAuditFixture,
  tamperEvent,
  T0,
  type AuditFixture,
} from '../../support/audit-log-fixture.js';
import { runCli } from '../../support/run-cli.js';

let dir: string;
let fx: AuditFixture;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-audit-'));
  fx = await makeAuditFixture(dir);
  await fx.grow(40);
  await fx.grow(20);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost audit verify (store and stored checkpoints, --no-published)', () => {
  it('a good log verifies: exit 0', async () => {
    const r = await runCli(['audit', 'verify', '--no-published'], fx.env);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('audit log OK: 60 entries, 2 checkpoints verified');
    const j = await runCli(['audit', 'verify', '--no-published', '--json'], fx.env);
    expect(JSON.parse(j.out)).toMatchObject({
      ok: true,
      count: 60,
      storedCheckpoints: 2,
      publishedCheckpoints: null,
    });
  });

  it('an edited entry: exit 1 with the first bad index', async () => {
    const copy = join(dir, 'tampered.db');
    await copyFile(fx.env.SEALPOST_AUDIT_DB!, copy);
    tamperEvent(copy, 17);
    const r = await runCli(['audit', 'verify', '--no-published'], {
      ...fx.env,
      SEALPOST_AUDIT_DB: copy,
    });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/audit log NOT OK: first bad index 17 \(/);
    const j = await runCli(['audit', 'verify', '--no-published', '--json'], {
      ...fx.env,
      SEALPOST_AUDIT_DB: copy,
    });
    expect(j.code).toBe(1);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, firstBadIndex: 17 });
  });

  it('checkpoints signed by another identity are refused (wrong --audit-identity is named)', async () => {
    const r = await runCli(
      ['audit', 'verify', '--no-published', '--audit-identity', 'nobody'],
      fx.env,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('no record for identity "nobody"');
  });
});

describe('sealpost audit query and tail', () => {
  it('query by sender, type, topic, message id and time range', async () => {
    const bySender = JSON.parse(
      (
        await runCli(
          ['audit', 'query', '--sender', 'orders', '--type', 'rejected', '--json'],
          fx.env,
        )
      ).out,
    ) as { index: number; event: { sender: string; type: string } }[];
    expect(bySender.length).toBeGreaterThan(0);
    expect(bySender.every((e) => e.event.sender === 'orders' && e.event.type === 'rejected')).toBe(
      true,
    );
    expect(bySender.map((e) => e.index)).toEqual([0, 6, 12, 18, 24, 30, 36, 42, 48, 54]);
    const id = auditEvent(5).messageId!;
    const byId = JSON.parse(
      (await runCli(['audit', 'query', '--message-id', id, '--json'], fx.env)).out,
    ) as { index: number }[];
    expect(byId.map((e) => e.index)).toEqual([5]);
    const range = JSON.parse(
      (
        await runCli(
          [
            'audit',
            'query',
            '--since',
            new Date(T0 + 10 * 60_000).toISOString(),
            '--until',
            new Date(T0 + 12 * 60_000).toISOString(),
            '--json',
          ],
          fx.env,
        )
      ).out,
    ) as { index: number }[];
    expect(range.map((e) => e.index)).toEqual([10, 11, 12]);
    const table = await runCli(['audit', 'query', '--topic', 'orders.v1', '--limit', '2'], fx.env);
    expect(table.code).toBe(0);
    expect(table.out.split('\n')[0]).toMatch(/^INDEX\s+TIME\s+TYPE/);
    expect(table.out.trim().split('\n')).toHaveLength(3);
  });

  it('tail prints the last N', async () => {
    const r = await runCli(['audit', 'tail', '-n', '3', '--json'], fx.env);
    expect(r.code, r.err).toBe(0);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { index: number }).index),
    ).toEqual([57, 58, 59]);
    const t = await runCli(['audit', 'tail', '-n', '2'], fx.env);
    expect(t.out.trim().split('\n')).toHaveLength(3);
  });

  it('tail --follow prints new events and stops when the signal aborts (SIGINT in main.ts)', async () => {
    const followDir = await mkdtemp(join(tmpdir(), 'sealpost-cli-audit-follow-'));
    const db = join(followDir, 'audit.db');
    const crypto = await createCryptoProvider();
    const store = new SqliteAuditStore(db, crypto);
    await store.append([auditEvent(1000)]);
    const abort = new AbortController();
    const running = runCli(
      ['audit', 'tail', '--follow', '--interval', '50ms', '--json'],
      { SEALPOST_AUDIT_DB: db },
      { signal: abort.signal },
    );
    await new Promise((r) => setTimeout(r, 200));
    await store.append([auditEvent(1001), auditEvent(1002)]);
    await new Promise((r) => setTimeout(r, 400));
    abort.abort();
    const r = await running;
    await store.close();
    await rm(followDir, { recursive: true, force: true });
    expect(r.code).toBe(0);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { index: number }).index),
    ).toEqual([0, 1, 2]);
  });

  const bad: [string, string[], number, RegExp][] = [
    [
      'verify: bad --timeout',
      ['audit', 'verify', '--timeout', 'forever'],
      2,
      /--timeout.*not a duration/,
    ],
    [
      'query: bad --since',
      ['audit', 'query', '--since', 'yesterday'],
      2,
      /--since.*neither an ISO time/,
    ],
    [
      'query: bad --type',
      ['audit', 'query', '--type', 'exploded'],
      2,
      /Allowed choices are sealed/,
    ],
    [
      'query: bad message id',
      ['audit', 'query', '--message-id', 'xyz'],
      2,
      /--message-id must be 32/,
    ],
    ['tail: bad -n', ['audit', 'tail', '-n', 'many'], 2, /--lines.*not a non-negative integer/],
  ];
  for (const [title, argv, code, message] of bad) {
    it(`bad input — ${title}`, async () => {
      const r = await runCli(argv, fx.env);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(message);
    });
  }

  it('a missing store is named with the fix (exit 2)', async () => {
    const r = await runCli(['audit', 'tail'], { SEALPOST_AUDIT_DB: join(dir, 'absent.db') });
    expect(r.code).toBe(2);
    expect(r.err).toContain('SEALPOST_AUDIT_DB');
  });
});
