/**
 * An application reads the directory from the topic the guide publishes to, through the public API
 * only (src/index.ts, i.e. `import … from 'sealpost'`): KafkaDirectoryTopic as the KeyDirectory's
 * source, a saved state, following. The directory is published and revoked with the CLI, as
 * docs/OPERATIONS.md says. docs/API.md ("The key directory") shows the marked part verbatim
 * (test/unit/keys/directory-api-doc.test.ts keeps them equal).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCryptoProvider,
  createKafkajsTransport,
  FileDirectoryStateStore,
  KafkaDirectoryTopic,
  KeyDirectory,
  systemClock,
  type DirectoryAlert,
} from '../../src/index.js';
import { getEndpoints } from '../support/endpoints.js';
import { freshTopic, testLogger, testTransport, waitFor } from '../support/test-transport.js';
import { runCli } from '../support/run-cli.js';

const topic = freshTopic('public-directory');
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-public-directory-'));
  env = {
    SEALPOST_KEYS_DIR: join(dir, 'keys'),
    SEALPOST_KMS: 'local',
    SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
    SEALPOST_DIRECTORY_TOPIC: topic,
  };
});
afterAll(async () => {
  const admin = testTransport('public-directory-cleanup').admin();
  await admin.connect();
  await admin.deleteTopics([topic]).catch(() => undefined);
  await admin.disconnect();
  await rm(dir, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<string> {
  const r = await runCli(argv, env);
  expect(r.code, `${argv.join(' ')}: ${r.err}`).toBe(0);
  return r.out;
}

describe('the directory topic through the public API', () => {
  it('an application opens, follows and persists the directory published on the topic', async () => {
    const pin = (
      JSON.parse(await cli(['keys', 'init-authority', '--json'])) as { publicKey: string }
    ).publicKey;
    await cli(['keys', 'create', 'orders']);
    await cli(['keys', 'create', 'billing']);
    await cli([
      'directory',
      'publish',
      '--grant',
      'orders:send=orders',
      '--grant',
      'billing:receive=orders',
    ]);

    const brokers = getEndpoints().kafkaBrokers;
    const authorityPublicKey = new Uint8Array(Buffer.from(pin, 'hex'));
    const stateFile = join(dir, 'billing-directory-state.json');
    const alerts: DirectoryAlert[] = [];
    const refreshErrors: unknown[] = [];
    const logger = {
      warn: (o: { err: unknown }, msg: string) => refreshErrors.push({ msg, err: o.err }),
    };
    const crypto = await createCryptoProvider();
    const clock = systemClock;
    // The application's Kafka client (the one its pipeline uses).
    const transport = createKafkajsTransport({
      brokers,
      clientId: 'billing',
      logger: testLogger,
      nowMs: () => clock.nowMs(),
    });
    // directory-example:start
    const directory = await KeyDirectory.open({
      crypto,
      clock,
      authorityPublicKey, // the pinned SEALPOST_AUTHORITY_PUBLIC_KEY
      source: new KafkaDirectoryTopic({
        transport, // the application's Kafka client (a Transport)
        topic,
        randomBytes: (n) => crypto.randomBytes(n),
      }),
      state: new FileDirectoryStateStore(stateFile), // refuses an older directory after a restart
      onAlert: (alert) => alerts.push(alert),
    });
    // Follows the topic (each published head adopted at once) and re-reads it every 30 s.
    directory.startAutoRefresh(30_000, (err) => logger.warn({ err }, 'directory refresh failed'));
    // directory-example:end
    try {
      expect(directory.records().map((r) => [r.identity, r.status])).toEqual(
        expect.arrayContaining([
          ['orders', 'active'],
          ['billing', 'active'],
        ]),
      );
      expect(await directory.whenFollowing()).toBe(true);
      const epochs: number[] = [];
      directory.onEpochChange((e) => epochs.push(e));

      await cli(['keys', 'revoke', 'orders']);
      await waitFor(() => epochs.length > 0, 'the revocation pushed to the application');
      expect(epochs).toEqual([2]);
      expect(directory.records().find((r) => r.identity === 'orders')?.status).toBe('revoked');
      expect((await new FileDirectoryStateStore(stateFile).load())?.head.epoch).toBe(2);

      // The publisher's hourly re-sign on the topic reaches the application too (same epoch).
      const issued = directory.head().issuedAtMs;
      await cli(['directory', 'refresh-head']);
      await waitFor(() => directory.head().issuedAtMs > issued, 'the re-signed head pushed');
      expect(directory.epoch).toBe(2);
      await waitFor(
        async () =>
          ((await new FileDirectoryStateStore(stateFile).load())?.head.issuedAtMs ?? 0) > issued,
        'the re-signed head saved',
      );
      expect(alerts).toEqual([]);
      expect(refreshErrors).toEqual([]);
    } finally {
      await directory.close();
    }
  }, 120_000);
});
