import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { freshTopic, testTransport } from '../support/test-transport.js';
import { runCli } from '../support/run-cli.js';

/**
 * The key lifecycle through the CLI on the real stack: local KMS in a temp dir, and Transit on the
 * stack's OpenBao (`--kms vault`), publishing to a file and to a real compacted topic.
 */
let dir: string;
const topics: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-it-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  if (topics.length > 0) {
    const admin = testTransport('cli-keys-cleanup').admin();
    await admin.connect();
    await admin.deleteTopics(topics).catch(() => undefined);
    await admin.disconnect();
  }
});

describe('sealpost keys/directory on the real stack', () => {
  it('local KMS: init-authority → create → directory publish (file) → verify and show', async () => {
    const env = {
      SEALPOST_KEYS_DIR: join(dir, 'local-keys'),
      SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    };
    const a = await runCli(['keys', 'init-authority', '--kms', 'local', '--json'], env);
    expect(a.code, a.err).toBe(0);
    const pin = (JSON.parse(a.out) as { publicKey: string }).publicKey;
    expect((await runCli(['keys', 'create', 'orders', '--kms', 'local'], env)).code).toBe(0);
    expect((await runCli(['keys', 'create', 'billing', '--kms', 'local'], env)).code).toBe(0);
    const file = join(dir, 'local-directory.json');
    const pub = await runCli(
      [
        'directory',
        'publish',
        '--kms',
        'local',
        '--directory-file',
        file,
        '--grant',
        'orders:send=orders.v1',
        '--grant',
        'billing:receive=orders.v1',
      ],
      env,
    );
    expect(pub.code, pub.err).toBe(0);
    const verify = await runCli(['directory', 'verify', '--directory-file', file], {
      ...env,
      SEALPOST_AUTHORITY_PUBLIC_KEY: pin,
    });
    expect(verify.code, verify.err).toBe(0);
    expect(verify.out).toContain('directory OK: 2 records');
    const show = await runCli(['directory', 'show', '--directory-file', file], {
      ...env,
      SEALPOST_AUTHORITY_PUBLIC_KEY: pin,
    });
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/orders\s+\d+\s+active/);
    expect(show.out).toMatch(/billing\s+\d+\s+active/);
  });

  it('--kms vault: identities wrapped by OpenBao Transit, directory on a compacted topic; no token in any output', async () => {
    const e = getEndpoints();
    const env = {
      SEALPOST_KEYS_DIR: join(dir, 'vault-keys'),
      VAULT_ADDR: e.vaultAddr,
      VAULT_TOKEN: e.vaultToken,
      VAULT_TRANSIT_KEY: `cli-it-${randomBytes(4).toString('hex')}`,
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
    };
    const outputs: string[] = [];
    const run = async (argv: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(argv, { ...env, ...extra });
      outputs.push(r.out, r.err);
      return r;
    };
    const a = await run(['keys', 'init-authority', '--kms', 'vault', '--json']);
    expect(a.code, a.err).toBe(0);
    const pin = (JSON.parse(a.out) as { publicKey: string }).publicKey;
    const c = await run(['keys', 'create', 'shipping', '--kms', 'vault', '--json']);
    expect(c.code, c.err).toBe(0);
    const created = JSON.parse(c.out) as { summary: { kms: { kind: string; keyName: string } } };
    expect(created.summary.kms).toMatchObject({
      kind: 'openbao-transit',
      keyName: env.VAULT_TRANSIT_KEY,
    });
    const stored = await readFile(join(env.SEALPOST_KEYS_DIR, 'shipping.json'), 'utf8');
    expect(stored).toMatch(/vault:v1:/);

    const topic = freshTopic('cli-directory');
    topics.push(topic);
    const pub = await run([
      'directory',
      'publish',
      '--kms',
      'vault',
      '--topic',
      topic,
      '--grant',
      'shipping:receive=orders.v1',
    ]);
    expect(pub.code, pub.err).toBe(0);
    expect(pub.out).toContain(`published to topic ${topic}`);
    const verify = await run([
      'directory',
      'verify',
      '--topic',
      topic,
      '--authority-key',
      pin,
      '--json',
    ]);
    expect(verify.code, verify.err).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, records: 1 });

    const missing = await run([
      'directory',
      'show',
      '--topic',
      `${topic}-missing`,
      '--authority-key',
      pin,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('publish the directory first');

    const rewrap = await run([
      'keys',
      'rewrap',
      'shipping',
      '--kms',
      'vault',
      '--rotate-kms-key',
      '--json',
    ]);
    expect(rewrap.code, rewrap.err).toBe(0);
    expect((JSON.parse(rewrap.out) as { kms: { latestVersion: number } }).kms.latestVersion).toBe(
      2,
    );

    // A refused token: a clear, typed error (not retriable: exit 1) that does not echo the token.
    const badToken = `hvs.${randomBytes(12).toString('hex')}`;
    const denied = await run(['keys', 'create', 'denied', '--kms', 'vault'], {
      VAULT_TOKEN: badToken,
    });
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/OpenBao at .* refused the credentials/);
    expect(denied.out + denied.err).not.toContain(badToken);
    for (const o of outputs) {
      expect(o).not.toContain(e.vaultToken);
      expect(o).not.toMatch(/vault:v\d+:/); // no wrapped key either
    }
  });

  it('OpenBao unreachable: exit 3 with a message naming the fix', async () => {
    const r = await runCli(['keys', 'create', 'nobody', '--kms', 'vault'], {
      SEALPOST_KEYS_DIR: join(dir, 'down-keys'),
      VAULT_ADDR: 'http://127.0.0.1:1',
      VAULT_TOKEN: 'not-a-real-token-0123456789',
    });
    expect(r.code).toBe(3);
    expect(r.err).toContain('OpenBao at http://127.0.0.1:1 refused the connection');
    expect(r.err).toContain('npm run stack -- up');
    expect(r.err).not.toContain('not-a-real-token-0123456789');
  }, 30_000);
});
