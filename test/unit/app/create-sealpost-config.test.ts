/**
 * createSealpost validates the whole configuration before it builds anything: every problem at once,
 * named by its environment variable, and never a secret value in the error.
 */
import { describe, expect, it } from 'vitest';
import { createSealpost } from '../../../src/app/sealpost.js';
import { ConfigError } from '../../../src/errors.js';

async function refusal(env: Record<string, string>): Promise<ConfigError> {
  const err: unknown = await createSealpost({ env }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('createSealpost configuration', () => {
  it('lists every setting a service needs that is missing, by variable name', async () => {
    const err = await refusal({});
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'KAFKA_BROKERS',
      'SCHEMA_REGISTRY_URL',
      'SEALPOST_AUTHORITY_PUBLIC_KEY',
      'SEALPOST_IDENTITY_FILE',
    ]);
  });

  it('reports invalid values by name without echoing a secret', async () => {
    const token = 'hvs.not-a-real-token-but-secret';
    const err = await refusal({
      SEALPOST_KMS: 'vault',
      VAULT_ADDR: 'not a url',
      VAULT_TOKEN: token,
      KAFKA_BROKERS: 'no-port',
    });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems.some((p) => p.startsWith('VAULT_ADDR:'))).toBe(true);
    expect(err.problems.some((p) => p.startsWith('KAFKA_BROKERS:'))).toBe(true);
    expect(err.message).not.toContain(token);
    expect(JSON.stringify(err.problems)).not.toContain(token);
  });
});
