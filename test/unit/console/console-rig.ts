/**
 * A console on a real SQLite quarantine and audit store, releasing through the real
 * `releaseQuarantined` onto an in-memory transport (unsigned: the signer is the CLI's, exercised by
 * the browser test on the real stack), with two callers — a viewer and an operator — and a logger
 * whose every line the tests can read.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { ConsoleAuth, type ConsoleCredential } from '../../../src/console/console-auth.js';
import { createConsoleApp } from '../../../src/console/console-app.js';
import { ConsoleServer } from '../../../src/console/console-server.js';
import type {
  ConsoleServices,
  ConsoleVerifyResult,
} from '../../../src/console/console-services.js';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { releaseQuarantined } from '../../../src/dlq/quarantine-release.js';
import type { NewQuarantineEntry } from '../../../src/dlq/quarantine-store.js';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import type { MetadataEvent } from '../../../src/events/metadata-event.js';
import { createLogger } from '../../../src/observability/logger.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import { createInMemoryTransport, InMemoryCluster } from '../../../src/testing.js';
import { call } from '../../support/http-call.js';

export const VIEWER = {
  name: 'vera',
  role: 'viewer',
  token: 'viewer-token-6f1d0c1b7a2e4d3c9b8a7f6e5d4c3b2a',
} satisfies ConsoleCredential;
export const OPERATOR = {
  name: 'otto',
  role: 'operator',
  token: 'operator-token-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d',
} satisfies ConsoleCredential;

export const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/** The golden envelope of test/vectors/golden-basic.vector (a real sealed record). */
export function goldenEnvelope(): Uint8Array {
  const text = readFileSync(join(import.meta.dirname, '../../vectors/golden-basic.vector'), 'utf8');
  const lines = text.split('\n');
  const at = lines.indexOf('envelope:');
  const hex: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (!l.startsWith('  ')) break;
    hex.push(l.trim());
  }
  return new Uint8Array(Buffer.from(hex.join(''), 'hex'));
}

export function entry(n: number, over: Partial<NewQuarantineEntry> = {}): NewQuarantineEntry {
  return {
    dlqTopic: 'sealpost.dead-letter',
    dlqPartition: 0,
    dlqOffset: String(n),
    reason: n % 3 === 0 ? 'HEADER' : 'STALE',
    sourceTopic: 'orders.v1',
    sourcePartition: n % 2,
    sourceOffset: String(1000 + n),
    sourceTimestamp: String(NOW - 60_000),
    consumerGroup: 'billing',
    consumer: 'billing',
    attempt: 1,
    key: new Uint8Array([0x6b, n & 255]),
    value: goldenEnvelope(),
    headers: [{ key: 'traceparent', value: Buffer.from('00-abc').toString('base64') }],
    valueHash: n.toString(16).padStart(64, '0'),
    signatureVerified: true,
    arrivedAtMs: NOW - (200 - n) * 60_000,
    ...over,
  };
}

export function event(n: number): MetadataEvent {
  return {
    eventId: n.toString(16).padStart(32, '0'),
    type: n % 2 === 0 ? 'sealed' : 'rejected',
    timeMs: NOW - (100 - n) * 1000,
    actor: n % 2 === 0 ? 'orders' : 'billing',
    sender: 'orders',
    topic: 'orders.v1',
    partition: 0,
    offset: String(n),
    messageId: n.toString(16).padStart(32, 'c'),
    ...(n % 2 === 0 ? {} : { reason: 'HEADER' }),
  };
}

export interface ConsoleRig {
  readonly url: string;
  readonly store: SqliteQuarantineStore;
  readonly cluster: InMemoryCluster;
  readonly logLines: string[];
  verifyResult: ConsoleVerifyResult;
  metrics: string;
  close(): Promise<void>;
}

export async function startConsoleRig(
  entries = 120,
  options: {
    readonly credentials?: readonly ConsoleCredential[];
    readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
  } = {},
): Promise<ConsoleRig> {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-console-'));
  const crypto = await createCryptoProvider();
  const clock = new ManualClock(NOW);
  const store = new SqliteQuarantineStore(join(dir, 'quarantine.db'));
  await store.add(Array.from({ length: entries }, (_, i) => entry(i + 1)));
  const audit = new SqliteAuditStore(join(dir, 'audit.db'), crypto);
  await audit.append(Array.from({ length: 30 }, (_, i) => event(i + 1)));
  const cluster = new InMemoryCluster();
  const transport = createInMemoryTransport({ cluster, clientId: 'console-rig' });
  const admin = transport.admin();
  await admin.connect();
  await admin.createTopics([{ topic: 'orders.v1', numPartitions: 2 }]);
  await admin.disconnect();
  const logLines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });
  const rig = {
    verifyResult: { ok: true, logs: [], missingLogs: [] } as ConsoleVerifyResult,
    metrics: '',
  };
  const services: ConsoleServices = {
    quarantine: store,
    release: async (id, operator) => {
      const producer = transport.producer();
      await producer.connect();
      try {
        return await releaseQuarantined(store, producer, id, {
          nowMs: clock.nowMs(),
          releasedBy: operator,
        });
      } finally {
        await producer.disconnect();
      }
    },
    withAuditLogs: (body) =>
      body([{ partition: 0, origin: 'sealpost/audit/kafka/m/0', store: audit }]),
    verifyAudit: () => Promise.resolve(rig.verifyResult),
    metricsText: () => Promise.resolve(rig.metrics),
  };
  const auth = new ConsoleAuth({
    credentials: options.credentials ?? [VIEWER, OPERATOR],
    crypto,
    clock,
  });
  const server = new ConsoleServer({
    app: createConsoleApp({
      services,
      auth,
      clock,
      logger,
      secureCookie: options.tls !== undefined,
    }),
    port: 0,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  await server.start();
  return Object.assign(rig, {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${server.port}`,
    store,
    cluster,
    logLines,
    close: async () => {
      await server.stop();
      auth.close();
      await store.close();
      await audit.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export { call, type Reply } from '../../support/http-call.js';

/** Logs in with `token`; returns the cookie header to send and the session's CSRF token. */
export async function login(
  base: string,
  token: string,
): Promise<{ cookie: string; csrf: string }> {
  const r = await call(base, 'POST', '/login', { form: { token } });
  if (r.status !== 303) throw new Error(`login: ${r.status}`);
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? [])[0]!;
  const cookie = setCookie.split(';')[0]!;
  const page = await call(base, 'GET', '/quarantine', { headers: { cookie } });
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
  return { cookie, csrf };
}
