import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, readSecretFile } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sealpost-config-'));
  dirs.push(d);
  return d;
};

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults and parses broker lists', () => {
    const c = loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9095',
      SEALPOST_IDENTITY: 'orders',
    });
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9095']);
    expect(c.kms).toBe('local');
    expect(c.deadLetterTopic).toBe('sealpost.dead-letter');
    expect(c.identity).toBe('orders');
  });

  it('lists every problem at once, by environment variable name', () => {
    const problems = problemsOf(() =>
      loadConfig({
        SEALPOST_KMS: 'vault',
        SEALPOST_IDENTITY: 'Orders!',
        KAFKA_BROKERS: 'nohost',
        SCHEMA_REGISTRY_URL: 'not a url',
        SEALPOST_HTTP_PORT: '99999',
      }),
    );
    const joined = problems.join('\n');
    for (const name of [
      'SEALPOST_IDENTITY',
      'KAFKA_BROKERS',
      'SCHEMA_REGISTRY_URL',
      'SEALPOST_HTTP_PORT',
      'VAULT_ADDR',
      'VAULT_TOKEN_FILE',
    ]) {
      expect(joined).toContain(name);
    }
    expect(problems.length).toBeGreaterThanOrEqual(6);
  });

  it('reads a config file, lets the environment win, and refuses unknown keys', () => {
    const d = tmp();
    writeFileSync(
      join(d, 'c.json'),
      JSON.stringify({ identity: 'billing', metadataTopic: 'meta' }),
    );
    const c = loadConfig(
      { SEALPOST_CONFIG: 'c.json', SEALPOST_METADATA_TOPIC: 'meta2' },
      { cwd: d },
    );
    expect(c.identity).toBe('billing');
    expect(c.metadataTopic).toBe('meta2');
    writeFileSync(join(d, 'bad.json'), JSON.stringify({ identiy: 'typo' }));
    expect(
      problemsOf(() => loadConfig({ SEALPOST_CONFIG: 'bad.json' }, { cwd: d })).join(),
    ).toContain('identiy');
    expect(
      problemsOf(() => loadConfig({ SEALPOST_CONFIG: 'missing.json' }, { cwd: d })).join(),
    ).toContain('cannot read');
  });

  it('needs a complete client certificate for mTLS', () => {
    expect(
      problemsOf(() =>
        loadConfig({ SEALPOST_KAFKA_TLS: 'true', KAFKA_SSL_CERT_FILE: '/x.pem' }),
      ).join(),
    ).toContain('KAFKA_SSL_KEY_FILE');
    // Without SEALPOST_KAFKA_TLS the certificate files are not used (the stack's env names them for tests).
    expect(loadConfig({ KAFKA_SSL_CERT_FILE: '/x.pem' }).kafkaTls).toBe(false);
  });
});

describe('readSecretFile', () => {
  it('reads a 0600 file and refuses one others can read, without echoing it', () => {
    const d = tmp();
    const p = join(d, 'token');
    writeFileSync(p, 's3cr3t-token\n');
    chmodSync(p, 0o600);
    expect(readSecretFile(p)).toBe('s3cr3t-token');
    chmodSync(p, 0o644);
    try {
      readSecretFile(p);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('chmod 600');
      expect((err as Error).message).not.toContain('s3cr3t');
    }
  });
});
