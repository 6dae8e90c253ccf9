import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvText } from '../../../stack/env-file.js';
import { endpointsGivenByEnvironment, getEndpoints } from '../../support/endpoints.js';

const dir = mkdtempSync(join(tmpdir(), 'sealpost-endpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fileText = [
  '# comment line',
  'KAFKA_BROKERS=127.0.0.1:9092, 127.0.0.1:9095',
  'KAFKA_SSL_BROKERS=127.0.0.1:9093',
  'KAFKA_SSL_CA_FILE=/x/ca.crt',
  'KAFKA_SSL_CERT_FILE=/x/client.crt',
  'KAFKA_SSL_KEY_FILE=/x/client.key',
  'SCHEMA_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7/',
  'VAULT_ADDR=http://127.0.0.1:8200',
  'VAULT_TOKEN=t0ken=with=equals',
  '',
].join('\n');

describe('stack env file and test endpoints', () => {
  it('parses dotenv lines, keeps "=" inside values, ignores comments and blanks', () => {
    const parsed = parseEnvText(fileText);
    expect(parsed.VAULT_TOKEN).toBe('t0ken=with=equals');
    expect(Object.keys(parsed)).toHaveLength(8);
  });

  it('reads the env file, splits broker lists and trims trailing slashes', () => {
    const file = join(dir, 'env-full');
    writeFileSync(file, fileText);
    expect(getEndpoints({}, file)).toEqual({
      kafkaBrokers: ['127.0.0.1:9092', '127.0.0.1:9095'],
      kafkaSslBrokers: ['127.0.0.1:9093'],
      kafkaSsl: { caFile: '/x/ca.crt', certFile: '/x/client.crt', keyFile: '/x/client.key' },
      schemaRegistryUrl: 'http://127.0.0.1:8081/apis/ccompat/v7',
      vaultAddr: 'http://127.0.0.1:8200',
      vaultToken: 't0ken=with=equals',
    });
  });

  it('prefers the process environment over the file, value by value', () => {
    const file = join(dir, 'env-override');
    writeFileSync(file, fileText);
    const e = getEndpoints({ KAFKA_BROKERS: 'kafka.example:9092', VAULT_TOKEN: 'other' }, file);
    expect(e.kafkaBrokers).toEqual(['kafka.example:9092']);
    expect(e.vaultToken).toBe('other');
    expect(e.vaultAddr).toBe('http://127.0.0.1:8200');
  });

  it('names every missing value and says how to start the stack, without printing values', () => {
    const file = join(dir, 'env-partial');
    writeFileSync(file, 'KAFKA_BROKERS=127.0.0.1:9092\nVAULT_TOKEN=s3cret\n');
    let message = '';
    try {
      getEndpoints({}, file);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('SCHEMA_REGISTRY_URL');
    expect(message).toContain('KAFKA_SSL_KEY_FILE');
    expect(message).not.toContain('KAFKA_BROKERS,');
    expect(message).toContain('npm run stack -- up');
    expect(message).not.toContain('s3cret');
  });

  it('treats a missing file like an empty one', () => {
    expect(() => getEndpoints({}, join(dir, 'does-not-exist'))).toThrow(/npm run stack -- up/);
  });

  it('detects endpoints given by the environment', () => {
    expect(endpointsGivenByEnvironment({})).toBe(false);
    expect(endpointsGivenByEnvironment({ VAULT_ADDR: '' })).toBe(false);
    expect(endpointsGivenByEnvironment({ VAULT_ADDR: 'http://x:8200' })).toBe(true);
  });
});
