import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { schemaRegistryUrl } from './apicurio.js';
import { vaultAddr } from './openbao.js';
import { certPaths, stackPaths } from './paths.js';
import { postgresUrl } from './postgres.js';
import { runningPid } from './processes.js';
import type { KafkaNode } from './kafka.js';
import { host } from './versions.js';

/** Parses dotenv text (KEY=VALUE lines, `#` comments, no quoting needed for our values). */
export function parseEnvText(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The VAULT_TOKEN recorded in `.stack/env`, if any. */
export function recordedVaultToken(): string | undefined {
  if (!existsSync(stackPaths.envFile)) return undefined;
  const token = parseEnvText(readFileSync(stackPaths.envFile, 'utf8')).VAULT_TOKEN;
  return token === undefined || token === '' ? undefined : token;
}

/**
 * Writes `.stack/env` (mode 0600: it holds the OpenBao root token) with the contract's keys; the broker
 * lists name every Kafka node; SEALPOST_TEST_POSTGRES_URL when the optional PostgreSQL runs.
 */
export function writeEnvFile(vaultToken: string, nodes: readonly KafkaNode[]): void {
  const values: Record<string, string> = {
    KAFKA_BROKERS: nodes.map((n) => `${host}:${n.layout.plaintextPort}`).join(','),
    KAFKA_SSL_BROKERS: nodes.map((n) => `${host}:${n.layout.sslPort}`).join(','),
    KAFKA_SSL_CA_FILE: certPaths.caCert,
    KAFKA_SSL_CERT_FILE: certPaths.clientCert,
    KAFKA_SSL_KEY_FILE: certPaths.clientKey,
    SCHEMA_REGISTRY_URL: schemaRegistryUrl,
    VAULT_ADDR: vaultAddr,
    VAULT_TOKEN: vaultToken,
  };
  // The optional PostgreSQL server, while it runs (its URL holds its password: the file is 0600).
  const postgres = runningPid('postgres') === undefined ? undefined : postgresUrl();
  if (postgres !== undefined) values.SEALPOST_TEST_POSTGRES_URL = postgres;
  const body = Object.entries(values)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  writeFileSync(
    stackPaths.envFile,
    `# Endpoints of the local stack, written by \`npm run stack -- up\`. Secret: holds the OpenBao root token.\n${body}\n`,
    { mode: 0o600 },
  );
  chmodSync(stackPaths.envFile, 0o600);
}
