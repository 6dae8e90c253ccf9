/**
 * The operator console in a real browser (Debian's chromium via playwright-core) against the real
 * stack (docs/CONSOLE.md). Two records from a sender the consumer's directory does not list yet are
 * dead-lettered (HEADER) and quarantined by the dead-letter worker; after the directory is fixed an
 * operator logs in, opens the list and an entry, and releases it — invariant: the consumer's ledger
 * shows that message delivered exactly once and the other not at all — then purges the other (gone
 * from the store). "Verify now" shows the audit log OK, and after one stored event is edited behind
 * the store's back, NOT OK naming that index. The screenshots in docs/images/ are this test's.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/audit/audit-checkpoint.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { registerAllGroups } from '../../src/cli/groups.js';
import type { CliIo } from '../../src/cli/output.js';
import { createProgram, runProgram } from '../../src/cli/program.js';
import { HealthServer } from '../../src/observability/health-server.js';
import { systemClock } from '../../src/runtime/clock.js';
import { auditEvent, tamperEvent } from '../support/audit-log-fixture.js';
import { counterValue } from '../support/pipeline-world.js';
import { operatorCliEnv } from '../support/release-operator.js';
import { useScenario, withAuditAndDeadLetterWorker } from '../support/scenario.js';
import { startQuarantine, unknownSender } from '../support/unknown-sender.js';
import { waitFor, waitForCommitted } from '../support/test-transport.js';
import { launchChromium } from './chromium.js';

const IMAGES = join(import.meta.dirname, '../../docs/images');
const OPERATOR_TOKEN = 'console-browser-test-operator-token-7c1e9a04d2b3';

const sc = useScenario({
  purpose: 'console',
  clientId: 'console-browser',
  partitions: 2,
  services: (names, defaults) => [
    ...withAuditAndDeadLetterWorker(names, defaults),
    { name: 'ops', send: [], receive: [] },
  ],
});
const { topic, transport } = sc;

const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe('the operator console in chromium (real stack)', () => {
  it('list → detail → release (the consumer gets it once) → purge; verify OK, then the tampered index', async () => {
    // Billing's directory file does not list the sender `refunds` yet (test/support/unknown-sender.ts).
    const { billing, producer, fixDirectory } = await unknownSender(sc);
    const now = systemClock.nowMs();
    const sent = await producer.send({
      topic,
      messages: [
        { key: 'refund-1', value: { id: 'r-1', cents: -500, note: 'refund' } },
        { key: 'refund-2', value: { id: 'r-2', cents: -700, note: 'refund' } },
      ],
    });
    await waitFor(
      async () => (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')) >= 2,
      'both records dead-lettered',
      60_000,
    );

    const { dbPath, store } = await startQuarantine(sc);
    await waitFor(async () => (await store.list({})).length === 2, 'both quarantined', 30_000);
    const [first, second] = await store.list({});
    const released = sent.find(
      (s) => s.offset === first!.sourceOffset && s.partition === first!.sourcePartition,
    )!;
    const purged = sent.find((s) => s !== released)!;

    // The directory fixed; an audit log signed by the world's `audit` identity.
    await fixDirectory();
    const auditDb = join(sc.world.dir, 'audit.db');
    const audit = new SqliteAuditStore(auditDb, sc.world.crypto);
    const auditKey = (await sc.world.identity('audit')).signingKey();
    for (const n of [0, 1, 2]) {
      await audit.append(Array.from({ length: 40 }, (_, i) => auditEvent(n * 40 + i)));
      const head = await audit.head();
      await audit.addCheckpoint(
        signCheckpoint(
          sc.world.crypto,
          head.count,
          head.headHash,
          now - (3 - n) * 600_000,
          auditKey.kid,
          auditKey.secretKey,
        ),
      );
    }
    await audit.close();

    // Billing's metrics on an HTTP port, for the health page.
    const metrics = new HealthServer({
      registry: billing.promRegistry,
      health: () => ({ ok: true }),
      port: 0,
    });
    await metrics.start();
    stops.push(() => metrics.stop());

    // `sealpost console`, in-process, until aborted.
    const tokensFile = join(sc.world.dir, 'console-tokens.json');
    writeFileSync(
      tokensFile,
      JSON.stringify([{ name: 'olga', role: 'operator', token: OPERATOR_TOKEN }]),
      { mode: 0o600 },
    );
    const env = {
      ...(await operatorCliEnv(sc.world, 'ops', dbPath)),
      SEALPOST_AUDIT_DB: auditDb,
      SEALPOST_CONSOLE_TOKENS_FILE: tokensFile,
      SEALPOST_LOG_LEVEL: 'warn',
    };
    const abort = new AbortController();
    let out = '';
    let err = '';
    const io: CliIo = {
      out: (x) => (out += x),
      err: (x) => (err += x),
      env,
      cwd: sc.world.dir,
      signal: abort.signal,
    };
    const consoleRun = runProgram(
      createProgram(io, registerAllGroups),
      [
        'console',
        '--port',
        '0',
        '--no-published',
        '--metrics-url',
        `http://127.0.0.1:${metrics.port}/metrics`,
      ],
      io,
    );
    stops.push(async () => {
      abort.abort();
      await consoleRun;
    });
    await waitFor(() => out.includes('ready url=') || err !== '', 'the console to start', 30_000);
    expect(err).toBe('');
    const url = /ready url=(\S+)/.exec(out)![1]!.replace(/\/$/, '');

    const browser = await launchChromium();
    stops.push(() => browser.close());
    const page = await browser.context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });

    // Not logged in: the login form. Log in with the token.
    await page.goto(`${url}/quarantine`);
    expect(page.url()).toBe(`${url}/login`);
    await page.fill('#token', OPERATOR_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForURL(`${url}/quarantine`);
    expect(await page.locator('table.entries tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(IMAGES, 'console-quarantine.png'), fullPage: true });

    // Filter by reason and partition.
    await page.selectOption('select[name=reason]', 'HEADER');
    await page.fill('input[name=partition]', String(first!.sourcePartition));
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/reason=HEADER/);
    expect(await page.locator(`a[href="/quarantine/${first!.id}"]`).count()).toBe(1);

    // Detail: the envelope structure.
    await page.click(`a[href="/quarantine/${first!.id}"]`);
    await page.waitForURL(`${url}/quarantine/${first!.id}`);
    const detail = await page.locator('main').innerText();
    expect(detail).toContain('HEADER');
    expect(detail).toMatch(/version\s+1/);
    expect(detail).toMatch(/kid\[0\]\s+[0-9a-f]{32}/);
    expect(detail).toMatch(/seq\s+\d+/);
    await page.screenshot({ path: join(IMAGES, 'console-entry.png'), fullPage: true });

    // Release, with its confirmation step.
    await page.click('text=Release…');
    await page.waitForURL(`${url}/quarantine/${first!.id}/release`);
    await page.click('button:has-text("Confirm release")');
    await page.waitForSelector('.banner.ok');
    expect(await page.locator('.banner').innerText()).toContain('Released');
    await waitFor(() => billing.total() >= 1, 'the released record delivered', 60_000);
    expect(await store.get(first!.id)).toMatchObject({ status: 'released', releasedBy: 'olga' });

    // Purge the other, with its confirmation step.
    await page.goto(`${url}/quarantine/${second!.id}`);
    await page.click('text=Purge…');
    await page.click('button:has-text("Confirm purge")');
    await page.waitForSelector('.banner.ok');
    expect(await store.get(second!.id)).toBeUndefined();

    // The ledger: the released message exactly once, the purged one never (the consumer committed
    // past everything on the topic, so nothing more is on its way).
    const admin = transport.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    await waitForCommitted(
      transport,
      `billing-${topic}`,
      topic,
      Object.fromEntries(ends.map((e) => [e.partition, BigInt(e.high)])),
    );
    expect(billing.delivered.get(released.messageId)).toBe(1);
    expect(billing.delivered.get(purged.messageId)).toBeUndefined();
    expect(billing.total()).toBe(1);

    // Health: billing's metrics (its dead letters) in the alert table.
    await page.goto(`${url}/health`);
    expect(await page.locator('main').innerText()).toContain('sealpost_dead_lettered_total');
    await page.screenshot({ path: join(IMAGES, 'console-health.png'), fullPage: true });

    // Audit: checkpoints as a timeline; verify now: OK.
    await page.goto(`${url}/audit/checkpoints`);
    expect(await page.locator('svg.chart circle').count()).toBe(3);
    await page.screenshot({ path: join(IMAGES, 'console-checkpoints.png'), fullPage: true });
    await page.click('button:has-text("Verify now")');
    await page.waitForSelector('#verify-result');
    expect(await page.locator('#verify-result').innerText()).toContain('Audit log OK');
    await page.screenshot({ path: join(IMAGES, 'console-verify-ok.png'), fullPage: true });

    // An event edited behind the store's back: NOT OK, naming its index.
    tamperEvent(auditDb, 57);
    await page.goto(`${url}/audit/checkpoints`);
    await page.click('button:has-text("Verify now")');
    await page.waitForSelector('#verify-result.bad');
    expect(await page.locator('#first-bad-index').innerText()).toBe('57');
    expect(await page.locator('#verify-result').innerText()).toContain('NOT OK');
    await page.screenshot({ path: join(IMAGES, 'console-verify-tampered.png'), fullPage: true });

    expect(cspViolations).toEqual([]);
  });
});
