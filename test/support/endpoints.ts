import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnvText } from '../../stack/env-file.js';
import { stackPaths } from '../../stack/paths.js';

/** Where the integration tests find the real services. */
export interface Endpoints {
  kafkaBrokers: string[];
  /** Brokers of the mTLS listener (client certificate required). */
  kafkaSslBrokers: string[];
  /** PEM files of the stack CA and of a client certificate + PKCS#8 key that the broker accepts. */
  kafkaSsl: { caFile: string; certFile: string; keyFile: string };
  /** Confluent-compatible base URL, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`. */
  schemaRegistryUrl: string;
  vaultAddr: string;
  /** Root token of the OpenBao dev server. Never log it. */
  vaultToken: string;
}

/** The environment variables that carry the endpoints (the names `.stack/env` uses). */
export const endpointVariables = [
  'KAFKA_BROKERS',
  'KAFKA_SSL_BROKERS',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'SCHEMA_REGISTRY_URL',
  'VAULT_ADDR',
  'VAULT_TOKEN',
] as const;

type EndpointVariable = (typeof endpointVariables)[number];

/** True when the environment names at least one endpoint (then the tests do not start the stack). */
export function endpointsGivenByEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return endpointVariables.some((name) => (env[name] ?? '') !== '');
}

function readStackEnv(file: string): Record<string, string> {
  return existsSync(file) ? parseEnvText(readFileSync(file, 'utf8')) : {};
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The endpoints of the real services: each value from `process.env` when set, otherwise from
 * `.stack/env` (written by `npm run stack -- up`). Throws, naming what is missing, when a value is
 * found in neither.
 */
export function getEndpoints(
  env: NodeJS.ProcessEnv = process.env,
  envFile: string = stackPaths.envFile,
): Endpoints {
  const fromFile = readStackEnv(envFile);
  const missing: string[] = [];
  const get = (name: EndpointVariable): string => {
    const value = env[name] ?? fromFile[name] ?? '';
    if (value === '') missing.push(name);
    return value;
  };
  const endpoints: Endpoints = {
    kafkaBrokers: list(get('KAFKA_BROKERS')),
    kafkaSslBrokers: list(get('KAFKA_SSL_BROKERS')),
    kafkaSsl: {
      caFile: get('KAFKA_SSL_CA_FILE'),
      certFile: get('KAFKA_SSL_CERT_FILE'),
      keyFile: get('KAFKA_SSL_KEY_FILE'),
    },
    schemaRegistryUrl: get('SCHEMA_REGISTRY_URL').replace(/\/+$/, ''),
    vaultAddr: get('VAULT_ADDR').replace(/\/+$/, ''),
    vaultToken: get('VAULT_TOKEN'),
  };
  if (missing.length > 0) {
    throw new Error(
      `integration endpoints missing: ${missing.join(', ')} (neither in the environment nor in ${envFile}). ` +
        'Start the local stack with `npm run stack -- up`, or set these variables to running services.',
    );
  }
  return endpoints;
}

/** Reads the PEM files of the mTLS client identity (for kafkajs `ssl: { ca, cert, key }`). */
export function readKafkaSslFiles(endpoints: Endpoints): { ca: string; cert: string; key: string } {
  return {
    ca: readFileSync(endpoints.kafkaSsl.caFile, 'utf8'),
    cert: readFileSync(endpoints.kafkaSsl.certFile, 'utf8'),
    key: readFileSync(endpoints.kafkaSsl.keyFile, 'utf8'),
  };
}

/** The repo-relative path of the stack's env file, for messages. */
export const stackEnvFile: string = join('.stack', 'env');
