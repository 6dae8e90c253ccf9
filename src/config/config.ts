import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseSuitePolicyText, suitePolicyProblems, type SuiteMode } from '../keys/suite-policy.js';

/**
 * sealpost's one configuration schema, for the CLI, the workers and the demo. Built at the entry
 * points from environment variables and an optional JSON config file (`SEALPOST_CONFIG`); the
 * environment wins over the file. Secrets come by reference — a file path (`VAULT_TOKEN_FILE`,
 * `VAULT_SECRET_ID_FILE`) — and are read only when used; `VAULT_TOKEN` is accepted for local
 * development (the stack's `.stack/env` sets it). Validation reports every problem at once.
 */
const identityName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must match [a-z0-9][a-z0-9._-]{0,62}');
const topicName = z
  .string()
  .min(1)
  .max(249)
  .regex(/^[a-zA-Z0-9._-]+$/, 'must be a legal Kafka topic name');
const url = z.url();
const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter((b) => b.length > 0),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port'))
      .min(1, 'needs at least one host:port'),
  );
const port = z.coerce.number().int().min(0).max(65535);
const hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
/** `true`/`false`, as a string (environment) or a JSON boolean (config file). */
const flag = z
  .union([z.boolean(), z.enum(['true', 'false'])], { error: 'must be true or false' })
  .transform((v) => v === true || v === 'true');
/**
 * The envelope suite per topic (src/keys/suite-policy.ts): `pattern=mode,…` (environment) or an
 * object `{ "pattern": "mode" }` (config file); mode is classical, allow or require.
 */
const suitePolicy = z
  .union([z.string(), z.record(z.string(), z.string())])
  .transform((v, ctx): Record<string, SuiteMode> => {
    const parsed =
      typeof v === 'string'
        ? parseSuitePolicyText(v)
        : {
            topics: v as Record<string, SuiteMode>,
            problems: suitePolicyProblems({ topics: v as Record<string, SuiteMode> }),
          };
    for (const message of parsed.problems) ctx.addIssue({ code: 'custom', message, input: v });
    return parsed.topics;
  });

export const configSchema = z
  .object({
    identity: identityName.optional(),
    identityFile: z.string().min(1).optional(),
    keysDir: z.string().min(1).default('.sealpost/keys'),
    kms: z.enum(['vault', 'local']).default('local'),
    localKekFile: z.string().min(1).default('.sealpost/kek.json'),
    vaultAddr: url.optional(),
    vaultToken: z.string().min(1).optional(),
    vaultTokenFile: z.string().min(1).optional(),
    vaultRoleId: z.string().min(1).optional(),
    vaultSecretIdFile: z.string().min(1).optional(),
    vaultNamespace: z.string().min(1).optional(),
    vaultTransitMount: z
      .string()
      .regex(/^[a-zA-Z0-9_/-]+$/)
      .default('transit'),
    vaultTransitKey: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/)
      .default('sealpost'),
    vaultCaCertFile: z.string().min(1).optional(),
    kafkaBrokers: brokerList.optional(),
    kafkaClientId: z.string().min(1).max(255).default('sealpost'),
    kafkaSslBrokers: brokerList.optional(),
    kafkaTls: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    kafkaSslCaFile: z.string().min(1).optional(),
    kafkaSslCertFile: z.string().min(1).optional(),
    kafkaSslKeyFile: z.string().min(1).optional(),
    schemaRegistryUrl: url.optional(),
    directoryFile: z.string().min(1).optional(),
    directoryTopic: topicName.default('sealpost.directory'),
    directoryStateFile: z.string().min(1).default('.sealpost/directory-state.json'),
    authorityPublicKey: hex32.optional(),
    metadataTopic: topicName.default('sealpost.metadata'),
    deadLetterTopic: topicName.default('sealpost.dead-letter'),
    checkpointTopic: topicName.default('sealpost.audit-checkpoints'),
    stateTopic: topicName.default('sealpost.consumer-state'),
    auditDb: z.string().min(1).default('.sealpost/audit.db'),
    /** Names the cluster in the audit logs' origins (docs/AUDIT.md). */
    clusterName: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'use 1-200 of A-Z a-z 0-9 . _ -')
      .default('kafka'),
    quarantineDb: z.string().min(1).default('.sealpost/quarantine.db'),
    /** Where the audit and quarantine stores live: SQLite files (default) or PostgreSQL (docs/STORES.md). */
    store: z.enum(['sqlite', 'postgres']).default('sqlite'),
    /** `postgres://user@host:port/db`; a password in it is accepted, SEALPOST_POSTGRES_PASSWORD_FILE preferred. */
    postgresUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    postgresPasswordFile: z.string().min(1).optional(),
    postgresSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must match [a-z_][a-z0-9_]{0,62}')
      .default('public'),
    httpPort: port.default(0),
    httpHost: z.string().min(1).default('127.0.0.1'),
    /** The operator console (docs/CONSOLE.md): its callers' tokens file (JSON, mode 0600). */
    consoleTokensFile: z.string().min(1).optional(),
    /** `sealpost console`'s address (127.0.0.1 unless configured otherwise). */
    consoleHost: z.string().min(1).default('127.0.0.1'),
    consolePort: port.default(8088),
    /** HTTPS for `sealpost console`: certificate and key (PEM; the key mode 0600). */
    consoleTlsCertFile: z.string().min(1).optional(),
    consoleTlsKeyFile: z.string().min(1).optional(),
    /** With HTTPS: require client certificates signed by this CA (e.g. the stack's; docs/CONSOLE.md). */
    consoleClientCaFile: z.string().min(1).optional(),
    /** `on`: a worker also serves the console under /console on its HTTP port. Off unless set. */
    workerConsole: z
      .enum(['on', 'off'])
      .default('off')
      .transform((v) => v === 'on'),
    consumerSessionTimeoutMs: z.coerce.number().int().min(6000).max(300_000).default(10_000),
    workerGroupId: z.string().min(1).max(255).optional(),
    brokerUnreachableAfterMs: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    /** Envelope suite per topic (docs/SECURITY.md "Post-quantum sealing"); topics not named are classical. */
    suitePolicy: suitePolicy.default({}),
    /** Whether consumers open suite-2 (X-Wing) records on `classical` topics. */
    classicalOpensSuite2: flag.default(false),
    logLevel: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.kms === 'vault') {
      if (!c.vaultAddr)
        ctx.addIssue({
          code: 'custom',
          path: ['vaultAddr'],
          message: 'VAULT_ADDR is required with SEALPOST_KMS=vault',
        });
      const auth = [c.vaultToken, c.vaultTokenFile, c.vaultRoleId].filter((x) => x !== undefined);
      if (auth.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['vaultTokenFile'],
          message:
            'set VAULT_TOKEN_FILE (or VAULT_TOKEN), or VAULT_ROLE_ID with VAULT_SECRET_ID_FILE',
        });
      }
      if (c.vaultRoleId && !c.vaultSecretIdFile) {
        ctx.addIssue({
          code: 'custom',
          path: ['vaultSecretIdFile'],
          message: 'VAULT_ROLE_ID needs VAULT_SECRET_ID_FILE',
        });
      }
    }
    if (c.store === 'postgres' && c.postgresUrl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['postgresUrl'],
        message: 'SEALPOST_POSTGRES_URL is required with SEALPOST_STORE=postgres',
      });
    }
    const ssl = [c.kafkaSslCaFile, c.kafkaSslCertFile, c.kafkaSslKeyFile].filter(
      (x) => x !== undefined,
    ).length;
    if (c.kafkaTls && ssl > 0 && ssl < 3 && !(ssl === 1 && c.kafkaSslCaFile)) {
      ctx.addIssue({
        code: 'custom',
        path: ['kafkaSslCertFile'],
        message: 'mTLS needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
      });
    }
  });

export type SealpostConfig = z.infer<typeof configSchema>;

/** Environment variable → config key. */
export const ENV_KEYS: Readonly<Record<string, keyof SealpostConfig>> = {
  SEALPOST_IDENTITY: 'identity',
  SEALPOST_IDENTITY_FILE: 'identityFile',
  SEALPOST_KEYS_DIR: 'keysDir',
  SEALPOST_KMS: 'kms',
  SEALPOST_LOCAL_KEK_FILE: 'localKekFile',
  VAULT_ADDR: 'vaultAddr',
  VAULT_TOKEN: 'vaultToken',
  VAULT_TOKEN_FILE: 'vaultTokenFile',
  VAULT_ROLE_ID: 'vaultRoleId',
  VAULT_SECRET_ID_FILE: 'vaultSecretIdFile',
  VAULT_NAMESPACE: 'vaultNamespace',
  VAULT_TRANSIT_MOUNT: 'vaultTransitMount',
  VAULT_TRANSIT_KEY: 'vaultTransitKey',
  VAULT_CACERT: 'vaultCaCertFile',
  KAFKA_BROKERS: 'kafkaBrokers',
  KAFKA_CLIENT_ID: 'kafkaClientId',
  KAFKA_SSL_BROKERS: 'kafkaSslBrokers',
  SEALPOST_KAFKA_TLS: 'kafkaTls',
  KAFKA_SSL_CA_FILE: 'kafkaSslCaFile',
  KAFKA_SSL_CERT_FILE: 'kafkaSslCertFile',
  KAFKA_SSL_KEY_FILE: 'kafkaSslKeyFile',
  SCHEMA_REGISTRY_URL: 'schemaRegistryUrl',
  SEALPOST_DIRECTORY_FILE: 'directoryFile',
  SEALPOST_DIRECTORY_TOPIC: 'directoryTopic',
  SEALPOST_DIRECTORY_STATE_FILE: 'directoryStateFile',
  SEALPOST_AUTHORITY_PUBLIC_KEY: 'authorityPublicKey',
  SEALPOST_METADATA_TOPIC: 'metadataTopic',
  SEALPOST_DEAD_LETTER_TOPIC: 'deadLetterTopic',
  SEALPOST_CHECKPOINT_TOPIC: 'checkpointTopic',
  SEALPOST_STATE_TOPIC: 'stateTopic',
  SEALPOST_AUDIT_DB: 'auditDb',
  SEALPOST_CLUSTER_NAME: 'clusterName',
  SEALPOST_QUARANTINE_DB: 'quarantineDb',
  SEALPOST_STORE: 'store',
  SEALPOST_POSTGRES_URL: 'postgresUrl',
  SEALPOST_POSTGRES_PASSWORD_FILE: 'postgresPasswordFile',
  SEALPOST_POSTGRES_SCHEMA: 'postgresSchema',
  SEALPOST_HTTP_PORT: 'httpPort',
  SEALPOST_HTTP_HOST: 'httpHost',
  SEALPOST_CONSOLE_TOKENS_FILE: 'consoleTokensFile',
  SEALPOST_CONSOLE_HOST: 'consoleHost',
  SEALPOST_CONSOLE_PORT: 'consolePort',
  SEALPOST_CONSOLE_TLS_CERT_FILE: 'consoleTlsCertFile',
  SEALPOST_CONSOLE_TLS_KEY_FILE: 'consoleTlsKeyFile',
  SEALPOST_CONSOLE_CLIENT_CA_FILE: 'consoleClientCaFile',
  SEALPOST_WORKER_CONSOLE: 'workerConsole',
  SEALPOST_CONSUMER_SESSION_TIMEOUT_MS: 'consumerSessionTimeoutMs',
  SEALPOST_BROKER_UNREACHABLE_AFTER_MS: 'brokerUnreachableAfterMs',
  SEALPOST_WORKER_GROUP: 'workerGroupId',
  SEALPOST_SUITE_POLICY: 'suitePolicy',
  SEALPOST_CLASSICAL_OPENS_SUITE2: 'classicalOpensSuite2',
  SEALPOST_LOG_LEVEL: 'logLevel',
};

const KEY_TO_ENV: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ENV_KEYS).map(([e, k]) => [k, e]),
);

/** The outcome of parsing: the config when valid, and every problem found (by variable name). */
export interface ParsedConfig {
  readonly config: SealpostConfig | undefined;
  readonly problems: readonly string[];
}

/**
 * Parses config from an environment map and an optional file, collecting every problem instead of
 * throwing (the role check in config/role-check.ts adds its own to these).
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { cwd?: string } = {},
): ParsedConfig {
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  const file = env.SEALPOST_CONFIG;
  if (file !== undefined && file !== '') {
    const path = resolve(options.cwd ?? '.', file);
    try {
      const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push(`SEALPOST_CONFIG: ${path} must hold a JSON object`);
      } else {
        fromFile = parsed as Record<string, unknown>;
      }
    } catch (err) {
      problems.push(
        `SEALPOST_CONFIG: cannot read ${path} as JSON (${(err as Error).message.split('\n')[0]})`,
      );
    }
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [envName, key] of Object.entries(ENV_KEYS)) {
    const v = env[envName];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = issue.path[0];
      const name = typeof key === 'string' ? envNameOf(key) : '(config)';
      if (issue.code === 'unrecognized_keys') {
        problems.push(`config file: unknown keys ${issue.keys.join(', ')}`);
      } else {
        problems.push(`${name}: ${issue.message}`);
      }
    }
  }
  return { config: problems.length === 0 && result.success ? result.data : undefined, problems };
}

/** The environment variable that sets a config key (the key itself when there is none). */
export function envNameOf(key: string): string {
  return KEY_TO_ENV[key] ?? key;
}

/**
 * Validates config from an environment map and an optional file. Throws ConfigError listing every
 * problem (by environment variable name) when anything is wrong.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  options: { cwd?: string } = {},
): SealpostConfig {
  const { config, problems } = parseConfig(env, options);
  if (config === undefined) throw invalidConfig(problems);
  return config;
}

/** The ConfigError that lists every problem. */
export function invalidConfig(
  problems: readonly string[],
  heading = 'invalid configuration',
): ConfigError {
  return new ConfigError('CONFIG_INVALID', `${heading}:\n  - ${problems.join('\n  - ')}`, problems);
}

/**
 * Reads a secret from a file given by reference. Refuses files that others can read, and never puts
 * the content in an error.
 */
export function readSecretFile(path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new ConfigError('CONFIG_INVALID', `secret file ${path} cannot be read`);
  }
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `secret file ${path} is readable by group or others: chmod 600 it`,
    );
  }
  return readFileSync(path, 'utf8').trim();
}
