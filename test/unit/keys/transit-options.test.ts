import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/runtime/clock.js';
import { KmsError } from '../../../src/keys/kms/kms-error.js';
import { OpenBaoTransitKms } from '../../../src/keys/kms/openbao-transit-kms.js';
import type { OpenBaoTransitKmsOptions } from '../../../src/keys/kms/openbao-transit-kms.js';
import { RetryingKms } from '../../../src/keys/kms/retrying-kms.js';

const clock = new ManualClock();
const valid: OpenBaoTransitKmsOptions = {
  endpoint: 'http://127.0.0.1:1',
  keyName: 'svc-key',
  auth: { method: 'token', token: 's.secret-token-value' },
  clock,
};

async function configError(options: OpenBaoTransitKmsOptions): Promise<KmsError> {
  const err = await OpenBaoTransitKms.create(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KmsError);
  expect((err as KmsError).code).toBe('KMS_CONFIG_INVALID');
  return err as KmsError;
}

describe('OpenBaoTransitKms options (no network)', () => {
  it('builds a client from valid options without calling the server, and names the key it uses', async () => {
    const kms = await OpenBaoTransitKms.create({
      ...valid,
      mountPath: 'kms/transit',
      namespace: 'team-a',
    });
    expect(kms.reference).toEqual({
      kind: 'openbao-transit',
      keyName: 'svc-key',
      mountPath: 'kms/transit',
      namespace: 'team-a',
    });
    await kms.close();
    await expect(kms.describe()).rejects.toMatchObject({ code: 'KMS_CLOSED' });
  });

  it('refuses bad options with every problem listed and no secret in the message', async () => {
    const err = await configError({
      ...valid,
      endpoint: 'ftp://x',
      keyName: '../etc',
      mountPath: '/abs',
      renewFraction: 1.5,
      auth: { method: 'approle', roleId: '', secretId: 'super-secret-id' },
    });
    expect(err.message).toMatch(
      /endpoint must be http\(s\).*keyName is invalid.*mountPath is invalid.*AppRole roleId and secretId are required.*renewFraction/s,
    );
    expect(err.message).not.toContain('super-secret-id');
    await configError({ ...valid, endpoint: 'not a url' });
    await configError({ ...valid, auth: { method: 'token', token: '' } });
    await configError({ ...valid, caFile: '/nonexistent/ca.pem' });
  });

  it('refuses wrapped keys that are not Transit ciphertexts before any request', async () => {
    const kms = await OpenBaoTransitKms.create(valid);
    for (const bad of ['local:v1:AAAA', 'vault:v0:AAAA', 'vault:vx:AAAA', '']) {
      await expect(kms.unwrap(bad)).rejects.toMatchObject({ code: 'KMS_BAD_CIPHERTEXT' });
      await expect(kms.rewrap(bad)).rejects.toMatchObject({ code: 'KMS_BAD_CIPHERTEXT' });
    }
    await expect(kms.wrap(new Uint8Array(5000))).rejects.toMatchObject({
      code: 'KMS_REQUEST_REJECTED',
    });
    await kms.close();
  });

  it('the retry decorator refuses a nonsensical policy', () => {
    const inner = { reference: { kind: 'local', keyName: 'x' } } as unknown as OpenBaoTransitKms;
    expect(() => new RetryingKms(inner, { clock, deadlineMs: 0 })).toThrow(KmsError);
    expect(() => new RetryingKms(inner, { clock, initialDelayMs: 500, maxDelayMs: 100 })).toThrow(
      KmsError,
    );
  });
});
