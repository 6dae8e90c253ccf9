import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { LocalKms } from '../../../src/keys/kms/local-kms.js';
import { openIdentity } from '../../../src/keys/operations.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { runCli } from '../../support/run-cli.js';

let dir: string;
let env: Record<string, string>;
const dirFile = () => join(dir, 'directory.json');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-keys-'));
  env = { SEALPOST_KEYS_DIR: join(dir, 'keys'), SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json') };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sealpost keys + directory (local KMS, files)', () => {
  let authorityHex = '';

  it('init-authority prints the key to pin; create makes identities; list shows them', async () => {
    const a = await runCli(['keys', 'init-authority', '--json'], env);
    expect(a.code, a.err).toBe(0);
    const parsed = JSON.parse(a.out) as { publicKey: string; kid: string; file: string };
    expect(parsed.publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.file).toBe(join(dir, 'keys', 'authority.json'));
    authorityHex = parsed.publicKey;
    for (const name of ['orders', 'billing']) {
      const r = await runCli(['keys', 'create', name], env);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`created ${name}`);
      expect(r.out).toMatch(/active\s+[0-9a-f]{32}\s+[0-9a-f]{32}\s+local/);
    }
    const list = await runCli(['keys', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const names = (JSON.parse(list.out) as { summary: { name: string } }[]).map(
      (x) => x.summary.name,
    );
    expect(names).toEqual(['authority', 'billing', 'orders']);
  });

  it('keys create output never contains key material (unwrapped or wrapped)', async () => {
    const r = await runCli(['keys', 'create', 'secretive', '--json'], env);
    expect(r.code).toBe(0);
    const crypto = await createCryptoProvider();
    const kms = await LocalKms.open({
      path: env.SEALPOST_LOCAL_KEK_FILE!,
      crypto,
      clock: systemClock,
    });
    const path = join(dir, 'keys', 'secretive.json');
    const id = await openIdentity({ path, kms, crypto });
    const fileJson = JSON.parse(await readFile(path, 'utf8')) as {
      generations: { box: { wrappedSecretKey: string }; sign: { wrappedSeed: string } }[];
    };
    const forbidden: string[] = [];
    for (const g of id.generations()) {
      for (const sk of [g.box.secretKey, g.sign.secretKey.subarray(0, 32)]) {
        forbidden.push(Buffer.from(sk).toString('hex'), Buffer.from(sk).toString('base64'));
      }
    }
    for (const g of fileJson.generations)
      forbidden.push(g.box.wrappedSecretKey, g.sign.wrappedSeed);
    const kek = await readFile(env.SEALPOST_LOCAL_KEK_FILE!, 'utf8');
    forbidden.push(...(kek.match(/[A-Za-z0-9+/=]{40,}/g) ?? []));
    expect(forbidden.length).toBeGreaterThan(4);
    // A second create of the same name fails: its error must not leak anything either.
    const again = await runCli(['keys', 'create', 'secretive'], env);
    expect(again.code).toBe(1);
    expect(again.err).toContain('KEY_FILE_EXISTS');
    for (const s of forbidden) {
      expect(r.out + r.err).not.toContain(s);
      expect(again.out + again.err).not.toContain(s);
    }
    id.close();
    await kms.close();
  });

  it('directory publish (file) → show → verify; tampering is exit 1', async () => {
    const pub = await runCli(
      [
        'directory',
        'publish',
        '--directory-file',
        dirFile(),
        '--grant',
        'orders:send=orders.v1',
        '--grant',
        'billing:receive=orders.v1',
      ],
      env,
    );
    expect(pub.code, pub.err).toBe(0);
    expect(pub.out).toContain('published to');
    const show = await runCli(['directory', 'show', '--directory-file', dirFile(), '--json'], {
      ...env,
      SEALPOST_AUTHORITY_PUBLIC_KEY: authorityHex,
    });
    expect(show.code, show.err).toBe(0);
    const summary = JSON.parse(show.out) as {
      records: { identity: string; sendTopics: string[]; receiveTopics: string[] }[];
    };
    expect(summary.records.map((r) => r.identity).sort()).toEqual(['billing', 'orders']);
    expect(summary.records.find((r) => r.identity === 'orders')?.sendTopics).toEqual(['orders.v1']);
    const ok = await runCli(
      ['directory', 'verify', '--directory-file', dirFile(), '--authority-key', authorityHex],
      env,
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('directory OK: 2 records');

    const tampered = join(dir, 'tampered.json');
    await writeFile(
      tampered,
      (await readFile(dirFile(), 'utf8')).replace('orders.v1', 'orders.v2'),
    );
    const bad = await runCli(
      ['directory', 'verify', '--directory-file', tampered, '--authority-key', authorityHex],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('directory NOT OK');
    const wrongKey = await runCli(
      ['directory', 'verify', '--directory-file', dirFile(), '--authority-key', '11'.repeat(32)],
      env,
    );
    expect(wrongKey.code).toBe(1);
  });

  it('rotate, revoke, destroy-retired, rewrap', async () => {
    const rot = await runCli(['keys', 'rotate', 'orders', '--json'], env);
    expect(rot.code, rot.err).toBe(0);
    expect(
      (
        JSON.parse(rot.out) as { summary: { generations: { state: string }[] } }
      ).summary.generations.map((g) => g.state),
    ).toEqual(['active', 'retiring']);
    const rev = await runCli(['keys', 'revoke', 'billing', '--directory-file', dirFile()], env);
    expect(rev.code, rev.err).toBe(0);
    expect(rev.out).toMatch(/billing\s+\d+\s+revoked/);
    const destroy = await runCli(
      ['keys', 'destroy-retired', 'orders', '--retention', '0s', '--json'],
      env,
    );
    expect(destroy.code).toBe(0);
    expect((JSON.parse(destroy.out) as { destroyed: number[] }).destroyed).toEqual([1]);
    const rewrap = await runCli(['keys', 'rewrap', 'orders', '--rotate-kms-key', '--json'], env);
    expect(rewrap.code, rewrap.err).toBe(0);
    expect((JSON.parse(rewrap.out) as { kms: { latestVersion: number } }).kms.latestVersion).toBe(
      2,
    );
    const pub = await runCli(
      ['directory', 'publish', '--directory-file', dirFile(), '--grant', 'orders:send=orders.v1'],
      env,
    );
    expect(pub.code, pub.err).toBe(0);
    const show = await runCli(
      [
        'directory',
        'show',
        '--directory-file',
        dirFile(),
        '--authority-key',
        authorityHex,
        '--json',
      ],
      env,
    );
    const records = (JSON.parse(show.out) as { records: { identity: string; status: string }[] })
      .records;
    expect(
      records
        .filter((r) => r.identity === 'orders')
        .map((r) => r.status)
        .sort(),
    ).toEqual(['active', 'revoked']);
    expect(records.find((r) => r.identity === 'billing')?.status).toBe('revoked');
  });
});

describe('sealpost keys + directory: bad input', () => {
  const cases: [string, string[], number, RegExp][] = [
    [
      'keys init-authority: bad --kms',
      ['keys', 'init-authority', '--kms', 'hsm'],
      2,
      /Allowed choices are local, vault/,
    ],
    ['keys create: bad identity name', ['keys', 'create', 'Not Valid'], 1, /identity name/i],
    ['keys rotate: no such identity', ['keys', 'rotate', 'ghost'], 1, /ghost\.json.*keys create/],
    [
      'keys revoke: bad kid',
      ['keys', 'revoke', 'orders', '--kid', 'xyz'],
      2,
      /--kid.*32 lowercase hex/,
    ],
    [
      'keys destroy-retired: bad retention',
      ['keys', 'destroy-retired', 'orders', '--retention', 'soon'],
      2,
      /--retention.*not a duration/,
    ],
    [
      'keys list: missing folder',
      ['keys', 'list', '--dir', '/nonexistent/sealpost'],
      2,
      /no such folder/,
    ],
    ['keys rewrap: no such identity', ['keys', 'rewrap', 'ghost'], 1, /KEY_FILE_NOT_FOUND/],
    [
      'directory publish: bad grant',
      ['directory', 'publish', '--grant', 'orders:write=x'],
      2,
      /not send=topics or receive=topics/,
    ],
    [
      'directory show: no pinned key',
      ['directory', 'show', '--directory-file', '/tmp/x.json'],
      2,
      /SEALPOST_AUTHORITY_PUBLIC_KEY/,
    ],
    [
      'directory verify: both locations',
      [
        'directory',
        'verify',
        '--authority-key',
        'ab'.repeat(32),
        '--directory-file',
        'a',
        '--topic',
        'b',
      ],
      2,
      /either --directory-file or --topic/,
    ],
  ];
  for (const [title, argv, code, message] of cases) {
    it(title, async () => {
      const r = await runCli(argv, env);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(message);
    });
  }

  it('vault KMS without VAULT_ADDR is a config error naming the variable (exit 2)', async () => {
    const r = await runCli(['keys', 'create', 'x', '--kms', 'vault'], env);
    expect(r.code).toBe(2);
    expect(r.err).toContain('VAULT_ADDR');
  });
});
