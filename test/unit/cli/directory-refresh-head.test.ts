/**
 * `sealpost directory refresh-head`: the publisher's scheduled re-sign that a short head lifetime needs
 * (docs/OPERATIONS.md "Directory state"). Same epoch and records, a later issue time and expiry; a
 * running service with a saved state accepts it and saves it; the default lifetime is 4 h.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { FileDirectorySource } from '../../../src/keys/directory/directory-document.js';
import { FileDirectoryStateStore } from '../../../src/keys/directory/directory-state.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import { systemClock } from '../../../src/runtime/clock.js';
import { runCli } from './run-cli.js';

let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-refresh-head-'));
  env = {
    SEALPOST_KEYS_DIR: join(dir, 'keys'),
    SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    SEALPOST_DIRECTORY_FILE: join(dir, 'directory.json'),
  };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Summary {
  epoch: number;
  highestSerial: number;
  issuedAtMs: number;
  expiresAtMs: number;
}

describe('sealpost directory refresh-head', () => {
  it('refuses when nothing is published; re-signs the head (same epoch, later expiry) and a running service follows', async () => {
    const a = await runCli(['keys', 'init-authority', '--json'], env);
    expect(a.code, a.err).toBe(0);
    const pin = (JSON.parse(a.out) as { publicKey: string }).publicKey;
    expect((await runCli(['keys', 'create', 'orders'], env)).code).toBe(0);

    const none = await runCli(['directory', 'refresh-head'], env);
    expect(none.code).not.toBe(0);
    expect(none.err).toContain('directory publish');

    const pub = await runCli(
      ['directory', 'publish', '--grant', 'orders:send=orders.v1', '--json'],
      env,
    );
    expect(pub.code, pub.err).toBe(0);
    const first = JSON.parse(pub.out) as Summary;
    expect(first.expiresAtMs - first.issuedAtMs).toBe(4 * 3_600_000);

    const crypto = await createCryptoProvider();
    const service = await KeyDirectory.open({
      crypto,
      authorityPublicKey: new Uint8Array(Buffer.from(pin, 'hex')),
      source: new FileDirectorySource(env.SEALPOST_DIRECTORY_FILE!),
      clock: systemClock,
      state: new FileDirectoryStateStore(join(dir, 'service-state.json')),
    });
    const epochs: number[] = [];
    service.onEpochChange((e) => epochs.push(e));

    // The next head is issued at a later millisecond than the first.
    const issuedBefore = first.issuedAtMs;
    while (Date.now() <= issuedBefore) await new Promise((r) => setImmediate(r));
    const r = await runCli(['directory', 'refresh-head', '--head-ttl', '2h', '--json'], env);
    expect(r.code, r.err).toBe(0);
    const second = JSON.parse(r.out) as Summary;
    expect(second.epoch).toBe(first.epoch);
    expect(second.highestSerial).toBe(first.highestSerial);
    expect(second.issuedAtMs).toBeGreaterThan(first.issuedAtMs);
    expect(second.expiresAtMs - second.issuedAtMs).toBe(2 * 3_600_000);

    expect(await service.refresh()).toBe(first.epoch);
    expect(service.head().issuedAtMs).toBe(second.issuedAtMs);
    expect(epochs).toEqual([]);
    const saved = await new FileDirectoryStateStore(join(dir, 'service-state.json')).load();
    expect(saved?.head.issuedAtMs).toBe(second.issuedAtMs);
    await service.close();

    const verify = await runCli(['directory', 'verify'], {
      ...env,
      SEALPOST_AUTHORITY_PUBLIC_KEY: pin,
    });
    expect(verify.code, verify.err).toBe(0);
  });
});
