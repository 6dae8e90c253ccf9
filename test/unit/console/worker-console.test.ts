/**
 * The console served from a worker's HTTP port (SEALPOST_WORKER_CONSOLE=on; docs/CONSOLE.md): under
 * /console, authenticated like `sealpost console`, beside the unauthenticated /healthz and /metrics;
 * its health page reads the worker's own registry. Off unless configured.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerConsoleRoutes } from '../../../src/cli/console-command.js';
import { loadConfig } from '../../../src/config/config.js';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import { HealthServer } from '../../../src/observability/health-server.js';
import { call, entry, OPERATOR, VIEWER } from './console-rig.js';

const dir = mkdtempSync(join(tmpdir(), 'sealpost-worker-console-'));
let server: HealthServer;
let store: SqliteQuarantineStore;
let url: string;

beforeAll(async () => {
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify([VIEWER, OPERATOR]), { mode: 0o600 });
  const config = loadConfig({
    SEALPOST_WORKER_CONSOLE: 'on',
    SEALPOST_CONSOLE_TOKENS_FILE: tokensFile,
    SEALPOST_QUARANTINE_DB: join(dir, 'q.db'),
  });
  store = new SqliteQuarantineStore(config.quarantineDb);
  await store.add([entry(1), entry(2)]);
  const registry = new Registry();
  new Counter({
    name: 'sealpost_dead_lettered_total',
    help: 'x',
    labelNames: ['class'],
    registers: [registry],
  }).inc({ class: 'HEADER' }, 2);
  server = new HealthServer({
    registry,
    health: () => ({ ok: true }),
    port: 0,
    extra: await workerConsoleRoutes({
      config,
      crypto: await createCryptoProvider(),
      store,
      metricsText: () => registry.metrics(),
      logger: pino({ level: 'silent' }),
    }),
  });
  await server.start();
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console on a worker port', () => {
  it('is off unless SEALPOST_WORKER_CONSOLE=on', () => {
    expect(loadConfig({}).workerConsole).toBe(false);
  });

  it('serves /console authenticated, beside /healthz and /metrics', async () => {
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(url, 'GET', '/metrics')).body).toContain('sealpost_dead_lettered_total');
    expect((await call(url, 'GET', '/console/quarantine')).status).toBe(401);
    const browser = await call(url, 'GET', '/console/quarantine', {
      headers: { accept: 'text/html' },
    });
    expect(browser.headers.location).toBe('/console/login');
    const r = await call(url, 'GET', '/console/quarantine', {
      headers: { authorization: `Bearer ${VIEWER.token}` },
    });
    expect(r.status).toBe(200);
    expect(r.body).toContain('href="/console/quarantine/2"');
    expect(r.body).toContain('href="/console/static/console.css"');
    const login = await call(url, 'POST', '/console/login', { form: { token: OPERATOR.token } });
    expect(login.headers.location).toBe('/console/quarantine');
    expect(String(login.headers['set-cookie'])).toContain('Path=/console;');
  });

  it("shows the worker's own metrics on the health page", async () => {
    const r = await call(url, 'GET', '/console/health', {
      headers: { authorization: `Bearer ${VIEWER.token}` },
    });
    expect(r.body).toContain('{class=&quot;HEADER&quot;}');
  });
});
