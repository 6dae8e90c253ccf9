/**
 * Smoke test of the local stack: node-vault against the real OpenBao dev server — Transit key
 * lifecycle (encrypt/decrypt, data key, rotate, rewrap) and AppRole with a policy limited to one key.
 */
import { randomBytes } from 'node:crypto';
import vault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';

const endpoints = getEndpoints();

function b64(buf: Buffer): string {
  return buf.toString('base64');
}

/** The HTTP status of a node-vault error (it keeps the response on the error). */
function statusOf(err: unknown): number | undefined {
  return (err as { response?: { statusCode?: number } }).response?.statusCode;
}

describe('smoke: node-vault against OpenBao Transit and AppRole', () => {
  const suffix = randomBytes(6).toString('hex');
  const allowedKey = `smoke-allowed-${suffix}`;
  const otherKey = `smoke-other-${suffix}`;
  const policy = `smoke-policy-${suffix}`;
  const role = `smoke-role-${suffix}`;
  const root = vault({
    apiVersion: 'v1',
    endpoint: endpoints.vaultAddr,
    token: endpoints.vaultToken,
  });

  beforeAll(async () => {
    await root.write(`transit/keys/${allowedKey}`, { type: 'aes256-gcm96' });
    await root.write(`transit/keys/${otherKey}`, { type: 'aes256-gcm96' });
  });

  afterAll(async () => {
    for (const key of [allowedKey, otherKey]) {
      await root
        .write(`transit/keys/${key}/config`, { deletion_allowed: true })
        .catch(() => undefined);
      await root.delete(`transit/keys/${key}`).catch(() => undefined);
    }
    await root.delete(`auth/approle/role/${role}`).catch(() => undefined);
    await root.removePolicy({ name: policy }).catch(() => undefined);
  });

  it('encrypts and decrypts, issues a data key, rotates and rewraps', async () => {
    const plaintext = randomBytes(48);
    const enc = await root.encryptData({ name: allowedKey, plaintext: b64(plaintext) });
    const v1: string = enc.data.ciphertext;
    expect(v1.startsWith('vault:v1:')).toBe(true);
    const dec = await root.decryptData({ name: allowedKey, ciphertext: v1 });
    expect(Buffer.from(dec.data.plaintext as string, 'base64').equals(plaintext)).toBe(true);

    // A data key: 32 random bytes in the clear plus the same bytes wrapped by the Transit key.
    const dk = await root.write(`transit/datakey/plaintext/${allowedKey}`, { bits: 256 });
    const dataKey = Buffer.from(dk.data.plaintext as string, 'base64');
    expect(dataKey.length).toBe(32);
    const unwrapped = await root.decryptData({ name: allowedKey, ciphertext: dk.data.ciphertext });
    expect(Buffer.from(unwrapped.data.plaintext as string, 'base64').equals(dataKey)).toBe(true);

    await root.write(`transit/keys/${allowedKey}/rotate`, {});
    const key = await root.read(`transit/keys/${allowedKey}`);
    expect(key.data.latest_version).toBe(2);

    const rewrapped = await root.rewrapData({ name: allowedKey, ciphertext: v1 });
    const v2: string = rewrapped.data.ciphertext;
    expect(v2.startsWith('vault:v2:')).toBe(true);
    const dec2 = await root.decryptData({ name: allowedKey, ciphertext: v2 });
    expect(Buffer.from(dec2.data.plaintext as string, 'base64').equals(plaintext)).toBe(true);
    // The old version still decrypts until min_decryption_version is raised ...
    await expect(root.decryptData({ name: allowedKey, ciphertext: v1 })).resolves.toBeDefined();
    // ... and is refused (HTTP 400) after.
    await root.write(`transit/keys/${allowedKey}/config`, { min_decryption_version: 2 });
    const refused = await root.decryptData({ name: allowedKey, ciphertext: v1 }).then(
      () => undefined,
      (err: unknown) => statusOf(err),
    );
    expect(refused).toBe(400);
  });

  it('logs in with AppRole; the policy allows one key and refuses another with 403', async () => {
    await root.addPolicy({
      name: policy,
      rules: [
        `path "transit/encrypt/${allowedKey}" { capabilities = ["update"] }`,
        `path "transit/decrypt/${allowedKey}" { capabilities = ["update"] }`,
      ].join('\n'),
    });
    await root.write(`auth/approle/role/${role}`, {
      token_policies: [policy],
      token_ttl: '10m',
      secret_id_ttl: '10m',
    });
    const roleId: string = (await root.read(`auth/approle/role/${role}/role-id`)).data.role_id;
    const secretId: string = (await root.write(`auth/approle/role/${role}/secret-id`, {})).data
      .secret_id;

    const app = vault({ apiVersion: 'v1', endpoint: endpoints.vaultAddr });
    const login = await app.approleLogin({ role_id: roleId, secret_id: secretId });
    expect(typeof login.auth.client_token).toBe('string');
    expect(login.auth.policies).toContain(policy);
    expect(app.token).toBe(login.auth.client_token);

    const plaintext = b64(randomBytes(16));
    const enc = await app.encryptData({ name: allowedKey, plaintext });
    const dec = await app.decryptData({ name: allowedKey, ciphertext: enc.data.ciphertext });
    expect(dec.data.plaintext).toBe(plaintext);

    const denied = await app.encryptData({ name: otherKey, plaintext }).then(
      () => undefined,
      (err: unknown) => statusOf(err),
    );
    expect(denied).toBe(403);
    // A wrong secret id does not log in at all.
    const badLogin = await vault({ apiVersion: 'v1', endpoint: endpoints.vaultAddr })
      .approleLogin({ role_id: roleId, secret_id: randomBytes(16).toString('hex') })
      .then(
        () => undefined,
        (err: unknown) => statusOf(err),
      );
    expect(badLogin).toBeGreaterThanOrEqual(400);
  });
});
