/**
 * The console must not become a way in (docs/CONSOLE.md "Security"): every request authenticated,
 * viewers read only, CSRF on every state change, strict CSP and the usual headers, and no token or
 * session id in any page, header sent back, or log line. Invariants are checked from the store (what
 * was released or purged) and from the captured log lines.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../../src/console/console-app.js';
import { ConsoleAuth, parseConsoleCredentials } from '../../../src/console/console-auth.js';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { loadConfig } from '../../../src/config/config.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import {
  OPERATOR,
  VIEWER,
  call,
  login,
  startConsoleRig,
  type ConsoleRig,
  type Reply,
} from './console-rig.js';

let rig: ConsoleRig;
/** Every reply the tests received: checked for tokens at the end. */
const replies: Reply[] = [];
const get = async (
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  form?: Record<string, string>,
): Promise<Reply> => {
  const r = await call(rig.url, method, path, { headers, ...(form === undefined ? {} : { form }) });
  replies.push(r);
  return r;
};
const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  rig = await startConsoleRig(20);
});
afterAll(async () => rig.close());

const PAGES = [
  '/',
  '/quarantine',
  '/quarantine?reason=HEADER',
  '/quarantine/1',
  '/quarantine/1/release',
  '/quarantine/1/purge',
  '/audit',
  '/audit/checkpoints',
  '/health',
  '/nowhere',
];

describe('authentication', () => {
  it('refuses every page without credentials: 401 for clients, the login form for browsers', async () => {
    for (const path of PAGES) {
      const api = await get(path);
      expect(api.status, path).toBe(401);
      expect(api.headers['www-authenticate']).toBe('Bearer realm="sealpost-console"');
      expect(api.body).not.toContain('orders.v1');
      const browser = await get(path, { accept: 'text/html' });
      expect(browser.status, path).toBe(303);
      expect(browser.headers.location).toBe('/login');
    }
    for (const path of [
      '/quarantine/1/release',
      '/quarantine/1/purge',
      '/audit/verify',
      '/logout',
    ]) {
      const r = await get(path, {}, 'POST', { confirm: 'yes' });
      expect(r.status, path).toBe(401);
    }
    expect(await rig.store.get(1)).toMatchObject({ status: 'quarantined' });
  });

  it('refuses a wrong, truncated or malformed bearer token and a forged session cookie', async () => {
    for (const h of [
      bearer(OPERATOR.token.slice(0, -1) + 'x'),
      bearer(OPERATOR.token.slice(0, 20)),
      { authorization: `Basic ${Buffer.from(`otto:${OPERATOR.token}`).toString('base64')}` },
      { authorization: `Bearer ${OPERATOR.token} extra` },
      { cookie: `sealpost_console=${'A'.repeat(43)}` },
      { cookie: `sealpost_console=${OPERATOR.token}` },
    ]) {
      expect((await get('/quarantine', h)).status).toBe(401);
    }
  });

  it('exchanges a token for an HttpOnly, SameSite=Strict session cookie; a wrong one is refused', async () => {
    const bad = await get('/login', {}, 'POST', { token: 'x'.repeat(40) });
    expect(bad.status).toBe(401);
    expect(bad.body).toContain('not a valid token');
    expect(bad.headers['set-cookie']).toBeUndefined();
    const ok = await get('/login', {}, 'POST', { token: VIEWER.token });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/quarantine');
    const cookie = ([] as string[]).concat(ok.headers['set-cookie'] ?? [])[0]!;
    expect(cookie).toMatch(
      /^sealpost_console=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    const page = await get('/quarantine', { cookie: cookie.split(';')[0]! });
    expect(page.status).toBe(200);
    expect(page.body).toContain('vera (viewer)');
  });

  it('a session ends at logout and when it expires', async () => {
    const { cookie, csrf } = await login(rig.url, VIEWER.token);
    expect((await get('/quarantine', { cookie })).status).toBe(200);
    expect((await get('/logout', { cookie }, 'POST', { csrf })).status).toBe(303);
    expect((await get('/quarantine', { cookie })).status).toBe(401);

    const crypto = await createCryptoProvider();
    const clock = new ManualClock(0);
    const auth = new ConsoleAuth({ credentials: [VIEWER], crypto, clock, sessionTtlMs: 1000 });
    const s = auth.login(VIEWER.token)!;
    expect(auth.session(s.sessionId)?.name).toBe('vera');
    clock.advance(1000);
    expect(auth.session(s.sessionId)).toBeUndefined();
  });
});

describe('roles', () => {
  it('a viewer reads every page but may not release or purge (store unchanged)', async () => {
    for (const path of ['/quarantine', '/quarantine/2', '/audit', '/audit/checkpoints', '/health'])
      expect((await get(path, bearer(VIEWER.token))).status, path).toBe(200);
    expect((await get('/quarantine/2', bearer(VIEWER.token))).body).toContain('Read-only');
    for (const path of ['/quarantine/2/release', '/quarantine/2/purge'])
      expect((await get(path, bearer(VIEWER.token))).status, path).toBe(403);
    const { cookie, csrf } = await login(rig.url, VIEWER.token);
    for (const path of ['/quarantine/2/release', '/quarantine/2/purge']) {
      expect((await get(path, bearer(VIEWER.token), 'POST', { confirm: 'yes' })).status).toBe(403);
      expect((await get(path, { cookie }, 'POST', { confirm: 'yes', csrf })).status).toBe(403);
    }
    expect(await rig.store.get(2)).toMatchObject({ status: 'quarantined' });
    expect(rig.cluster.records('orders.v1', 0)).toHaveLength(0);
    expect(rig.cluster.records('orders.v1', 1)).toHaveLength(0);
  });
});

describe('CSRF', () => {
  it('refuses a session POST without the form token, with a wrong one, or from another site', async () => {
    const { cookie, csrf } = await login(rig.url, OPERATOR.token);
    const attempts: [Record<string, string>, Record<string, string>][] = [
      [{ cookie }, { confirm: 'yes' }],
      [{ cookie }, { confirm: 'yes', csrf: csrf.slice(0, -2) + 'AA' }],
      [{ cookie }, { confirm: 'yes', csrf: 'short' }],
      [
        { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        { confirm: 'yes', csrf },
      ],
      [
        { cookie, origin: 'https://evil.example' },
        { confirm: 'yes', csrf },
      ],
    ];
    for (const [headers, form] of attempts) {
      for (const path of ['/quarantine/3/purge', '/quarantine/3/release']) {
        const r = await get(path, headers, 'POST', form);
        expect(r.status, `${path} ${JSON.stringify(Object.keys(headers))}`).toBe(403);
      }
    }
    // Not a form at all (e.g. a cross-site text/plain POST).
    const plain = await call(rig.url, 'POST', '/quarantine/3/purge', {
      headers: { cookie, 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    const e3 = await rig.store.get(3);
    expect(e3).toMatchObject({ status: 'quarantined' });
    // A cross-site login is refused too.
    expect(
      (await get('/login', { 'sec-fetch-site': 'cross-site' }, 'POST', { token: OPERATOR.token }))
        .status,
    ).toBe(403);
  });

  it('with the token of a console page the operator purges and releases; both logged with the operator', async () => {
    const { cookie, csrf } = await login(rig.url, OPERATOR.token);
    const confirm = await get('/quarantine/4/purge', { cookie });
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('Confirm purge');
    const purge = await get(
      '/quarantine/4/purge',
      // As chromium sends a same-origin form POST from a page whose referrer policy hides the origin.
      { cookie, 'sec-fetch-site': 'same-origin', origin: 'null' },
      'POST',
      {
        confirm: 'yes',
        csrf,
      },
    );
    expect(purge.status).toBe(200);
    expect(await rig.store.get(4)).toBeUndefined();

    const release = await get('/quarantine/5/release', { cookie }, 'POST', {
      confirm: 'yes',
      csrf,
    });
    expect(release.status).toBe(200);
    expect(release.body).toContain('Released');
    expect(await rig.store.get(5)).toMatchObject({ status: 'released', releasedBy: 'otto' });
    // The record was published to its source partition (entry 5: partition 1).
    expect(rig.cluster.records('orders.v1', 1)).toHaveLength(1);

    const logged = rig.logLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({ operator: 'otto', action: 'purge', entry: 4, purged: 1 }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({
        operator: 'otto',
        action: 'release',
        entry: 5,
        outcome: 'released',
      }),
    );
  });

  it('a bearer caller (no ambient credential) needs no form token; without confirmation nothing happens', async () => {
    const unconfirmed = await get('/quarantine/6/purge', bearer(OPERATOR.token), 'POST', {});
    expect(unconfirmed.status).toBe(400);
    expect(await rig.store.get(6)).toBeDefined();
    const r = await get('/quarantine/6/purge', bearer(OPERATOR.token), 'POST', { confirm: 'yes' });
    expect(r.status).toBe(200);
    expect(await rig.store.get(6)).toBeUndefined();
  });
});

describe('headers and content', () => {
  it('every response carries the CSP and security headers; pages are no-store; no inline script or style', async () => {
    const { cookie } = await login(rig.url, VIEWER.token);
    const csp = SECURITY_HEADERS['content-security-policy']!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    for (const path of [...PAGES, '/login', '/static/console.css', '/static/favicon.svg']) {
      for (const headers of [{}, { cookie }]) {
        const r = await get(path, headers);
        for (const [k, v] of Object.entries(SECURITY_HEADERS))
          expect(r.headers[k], `${path} ${k}`).toBe(v);
        if (!path.startsWith('/static/')) expect(r.headers['cache-control']).toBe('no-store');
        expect(r.body).not.toMatch(/<script|<style|\sstyle=|\son[a-z]+=|javascript:/i);
      }
    }
  });

  it('binds to 127.0.0.1 unless configured otherwise', () => {
    const config = loadConfig({});
    expect(config.consoleHost).toBe('127.0.0.1');
    expect(config.workerConsole).toBe(false);
    expect(rig.url.startsWith('http://127.0.0.1:')).toBe(true);
  });

  it('the tokens file: problems named without the token; short and duplicate tokens refused', () => {
    const secret = 'q'.repeat(20);
    expect(() =>
      parseConsoleCredentials(JSON.stringify([{ name: 'a', role: 'operator', token: secret }])),
    ).toThrow(/at least 32/);
    try {
      parseConsoleCredentials(JSON.stringify([{ name: 'a', role: 'root', token: secret }]));
    } catch (err) {
      expect((err as Error).message).not.toContain(secret);
    }
    expect(() => parseConsoleCredentials(JSON.stringify([{ name: 'a', role: 'viewer' }]))).toThrow(
      /needs a token or a clientCertificateCn/,
    );
    const t = 'z'.repeat(40);
    expect(() =>
      parseConsoleCredentials(
        JSON.stringify([
          { name: 'a', role: 'viewer', token: t },
          { name: 'b', role: 'operator', token: t },
        ]),
      ),
    ).toThrow(/share a token/);
  });

  it('no token or session id appears in any page, response header or log line', async () => {
    const { cookie } = await login(rig.url, OPERATOR.token);
    const sessionId = cookie.split('=')[1]!;
    replies.push(await get('/quarantine', { cookie }));
    const secrets = [VIEWER.token, OPERATOR.token, sessionId];
    for (const r of replies) {
      const headers = JSON.stringify({ ...r.headers, 'set-cookie': undefined });
      for (const s of secrets) {
        expect(r.body).not.toContain(s);
        expect(headers).not.toContain(s);
      }
    }
    expect(rig.logLines.length).toBeGreaterThan(10);
    for (const line of rig.logLines) for (const s of secrets) expect(line).not.toContain(s);
  });
});
