/**
 * The console's pages over a real SQLite quarantine and audit store (docs/CONSOLE.md): filters and
 * keyset paging, arrivals by reason as a server-rendered chart, an entry's envelope structure as
 * `quarantine show` gives it (never decrypted), audit events by sender and type, checkpoints, the
 * verify result naming the first bad index, and the health page's alert metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, entry, OPERATOR, startConsoleRig, type ConsoleRig } from './console-rig.js';

let rig: ConsoleRig;
/** The markup with the whitespace between tags removed (the templates are formatted for reading). */
const squeeze = (body: string): string =>
  body.replace(/\s+/g, ' ').replace(/>\s+/g, '>').replace(/\s+</g, '<');
const auth = { authorization: `Bearer ${OPERATOR.token}` };
const page = async (path: string): Promise<string> => {
  const r = await call(rig.url, 'GET', path, { headers: auth });
  expect(r.status, `${path}: ${r.body.slice(0, 300)}`).toBe(200);
  return squeeze(r.body);
};
const ids = (body: string): number[] =>
  [...body.matchAll(/<td class="num"><a href="\/quarantine\/(\d+)">/g)].map((m) => Number(m[1]));

beforeAll(async () => {
  rig = await startConsoleRig(120);
});
afterAll(async () => rig.close());

describe('quarantine list', () => {
  it('pages through the entries 50 at a time by id (next page after the last id shown)', async () => {
    const first = await page('/quarantine');
    expect(ids(first)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(first).toContain('href="/quarantine?after=50"');
    const second = await page('/quarantine?after=50');
    expect(ids(second)).toEqual(Array.from({ length: 50 }, (_, i) => i + 51));
    const third = await page('/quarantine?after=100');
    expect(ids(third)).toEqual(Array.from({ length: 20 }, (_, i) => i + 101));
    expect(third).not.toContain('rel="next"');
  });

  it('filters by reason, topic, source partition, age and status; the next link keeps them', async () => {
    const header = await page('/quarantine?reason=HEADER&partition=1&topic=orders.v1');
    // HEADER: n % 3 === 0; partition 1: n odd.
    expect(ids(header)).toEqual(
      Array.from({ length: 120 }, (_, i) => i + 1).filter((n) => n % 3 === 0 && n % 2 === 1),
    );
    // Entry n arrived (200 - n) minutes before now: older than 150 minutes are n < 50.
    expect(ids(await page('/quarantine?older=150m'))).toEqual(
      Array.from({ length: 49 }, (_, i) => i + 1),
    );
    const stale = await page('/quarantine?reason=STALE');
    expect(stale).toContain('href="/quarantine?reason=STALE&amp;after=');
    expect(ids(await page('/quarantine?topic=payments'))).toEqual([]);
    expect(ids(await page('/quarantine?status=released'))).toEqual([]);
  });

  it('refuses bad filter values with a 400 that names the field', async () => {
    for (const [q, field] of [
      ['reason=BOGUS', 'reason'],
      ['partition=-1', 'partition'],
      ['older=soon', 'older than'],
      ['status=gone', 'status'],
      ['topic=a%20b', 'topic'],
    ]) {
      const r = await call(rig.url, 'GET', `/quarantine?${q}`, { headers: auth });
      expect(r.status, q).toBe(400);
      expect(r.body).toContain(field);
    }
  });

  it('counts by reason and charts arrivals by reason per hour as inline SVG', async () => {
    const body = await page('/quarantine');
    // 40 HEADER (n % 3 === 0), 80 STALE.
    expect(body).toMatch(/<td class="num">40<\/td>/);
    expect(body).toMatch(/<td class="num">80<\/td>/);
    expect(body).toContain('<svg class="chart"');
    // Arrivals span 200..81 minutes ago: the last 24 hourly buckets hold them all.
    const bars = [
      ...body.matchAll(/<rect class="r-(HEADER|STALE)"[^>]*><title>[^<]*: (\d+)<\/title>/g),
    ];
    expect(bars.reduce((a, m) => a + Number(m[2]), 0)).toBe(120);
  });
});

describe('entry detail', () => {
  it("shows the dead letter's metadata and the envelope structure, never the key or header values", async () => {
    const body = await page('/quarantine/7');
    for (const text of [
      'orders.v1',
      'billing',
      'sealpost.dead-letter',
      '<th>version</th><td class="mono">1</td>',
      '<th>suite</th>',
      '<th>kid[0]</th>',
      '<th>seq</th>',
      '<th>size ciphertext</th>',
      'Release…',
      'Purge…',
    ])
      expect(body, text).toContain(text);
    // The record key bytes and the header value are shown by size only.
    expect(body).not.toContain(Buffer.from([0x6b, 7]).toString('base64'));
    expect(body).not.toContain(Buffer.from('00-abc').toString('base64'));
    expect(body).not.toContain('00-abc');
  });

  it('an entry that does not exist is a 400 naming it', async () => {
    const r = await call(rig.url, 'GET', '/quarantine/99999', { headers: auth });
    expect(r.status).toBe(400);
    expect(r.body).toContain('no quarantine entry 99999');
  });
});

describe('release refused', () => {
  it('an entry that is not a verified dead letter: 409 naming the code, nothing published or marked', async () => {
    await rig.store.add([entry(500, { signatureVerified: false })]);
    const [unverified] = await rig.store.list({ afterId: 120 });
    const r = await call(rig.url, 'POST', `/quarantine/${unverified!.id}/release`, {
      headers: auth,
      form: { confirm: 'yes' },
    });
    expect(r.status).toBe(409);
    expect(squeeze(r.body)).toContain('Refused (QUARANTINE_UNVERIFIED)');
    expect(await rig.store.get(unverified!.id)).toMatchObject({ status: 'quarantined' });
    expect(rig.cluster.records('orders.v1', 0)).toHaveLength(0);
    expect(rig.logLines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({
        action: 'release',
        code: 'QUARANTINE_UNVERIFIED',
        operator: 'otto',
      }),
    );
  });
});

describe('audit', () => {
  it('queries events by sender and type', async () => {
    const all = await page('/audit');
    expect([...all.matchAll(/<tr><td class="num">\d+<\/td>/g)]).toHaveLength(30);
    const rejected = await page('/audit?type=rejected&sender=orders');
    const rows = [
      ...rejected.matchAll(/<tr><td class="num">(\d+)<\/td><td>[^<]*<\/td><td>([a-z_]+)<\/td>/g),
    ];
    expect(rows).toHaveLength(15);
    expect(new Set(rows.map((m) => m[2]))).toEqual(new Set(['rejected']));
    const r = await call(rig.url, 'GET', '/audit?type=nope', { headers: auth });
    expect(r.status).toBe(400);
  });

  it('checkpoints page shows each log with its head and a verify button', async () => {
    const body = await page('/audit/checkpoints');
    expect(body).toContain('sealpost/audit/kafka/m/0');
    expect(body).toContain('30 entries');
    expect(body).toContain('Verify now');
  });

  it('verify now shows OK, or NOT OK with the first bad index and the problem', async () => {
    const log = {
      partition: 0,
      origin: 'sealpost/audit/kafka/m/0',
      chainOk: true,
      ok: true,
      count: 30,
      checkpointsVerified: 2,
      storedCheckpoints: 2,
      publishedCheckpoints: null,
      tlogCheckpoints: null,
    };
    rig.verifyResult = { ok: true, logs: [log], missingLogs: [] };
    const ok = await call(rig.url, 'POST', '/audit/verify', { headers: auth, form: {} });
    expect(squeeze(ok.body)).toContain('Audit log OK');
    rig.verifyResult = {
      ok: false,
      logs: [
        { ...log, ok: false, chainOk: false, firstBadIndex: 17, problem: 'ENTRY_HASH_MISMATCH' },
      ],
      missingLogs: [],
    };
    const bad = await call(rig.url, 'POST', '/audit/verify', { headers: auth, form: {} });
    expect(squeeze(bad.body)).toContain('Audit log NOT OK');
    expect(squeeze(bad.body)).toContain(
      'first bad index<strong id="first-bad-index">17</strong>(ENTRY_HASH_MISMATCH)',
    );
  });
});

describe('health', () => {
  it("shows the alert table's metrics from the workers' text, flagging the ones a value alone alerts on", async () => {
    rig.metrics = [
      '# HELP sealpost_broker_reachable Whether the broker answered',
      '# TYPE sealpost_broker_reachable gauge',
      'sealpost_broker_reachable 0',
      'sealpost_quarantine_entries{reason="HEADER"} 3',
      'sealpost_dlq_lag_records 12',
      'process_cpu_seconds_total 1.5',
    ].join('\n');
    const body = await page('/health');
    expect(body).toContain('sealpost_broker_reachable');
    expect(body).toMatch(/<td class="num bad">0<\/td>/);
    expect(body).toContain('{reason=&quot;HEADER&quot;}');
    expect(body).toMatch(/<td class="num ">12<\/td>/);
    expect(body).not.toContain('process_cpu_seconds_total');
  });
});
