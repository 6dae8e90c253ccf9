import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SealpostConfig } from '../config/config.js';
import { readSecretFile } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { createKafkajsTransport } from '../kafka/kafkajs-transport.js';
import type * as PlatformaticAdapter from '../kafka/platformatic-transport.js';
import type { Transport } from '../kafka/transport.js';
import {
  FileDirectorySource,
  type DirectorySource,
  type DirectoryTopicSource,
} from '../keys/directory/directory-document.js';
import { FileDirectoryStateStore } from '../keys/directory/directory-state.js';
import { KafkaDirectoryTopic } from '../keys/directory/directory-topic.js';
import { KeyDirectory, type DirectoryAlert } from '../keys/directory/key-directory.js';
import { identityFileSource, type IdentitySource } from '../keys/identity-source.js';
import { CountingKms } from '../keys/kms/counting-kms.js';
import type { Kms } from '../keys/kms/kms.js';
import { LocalKms } from '../keys/kms/local-kms.js';
import { OpenBaoTransitKms, type TransitAuth } from '../keys/kms/openbao-transit-kms.js';
import { RetryingKms } from '../keys/kms/retrying-kms.js';
import { ServiceKeys } from '../keys/service-keys.js';
import { SuitePolicy } from '../keys/suite-policy.js';
import { createLogger } from '../observability/logger.js';
import { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import type { Clock } from '../runtime/clock.js';

/**
 * The composition root's building blocks: turn a validated SealpostConfig into the real clients.
 * Used by the CLI, the workers and the demo; library code never calls these (it takes the built
 * objects as options).
 */

/** The KMS named by the config, with retry (transient errors, capped backoff) and call counting. */
export async function buildKms(
  config: SealpostConfig,
  deps: {
    crypto: CryptoProvider;
    clock: Clock;
    createLocalKeyring?: boolean;
    ensureTransitKey?: boolean;
  },
): Promise<CountingKms> {
  let inner: Kms;
  if (config.kms === 'local') {
    inner = await LocalKms.open({
      path: config.localKekFile,
      crypto: deps.crypto,
      clock: deps.clock,
      create: deps.createLocalKeyring ?? false,
    });
  } else {
    if (config.vaultAddr === undefined) {
      throw new ConfigError('CONFIG_INVALID', 'VAULT_ADDR is required with SEALPOST_KMS=vault');
    }
    let auth: TransitAuth;
    if (config.vaultRoleId !== undefined && config.vaultSecretIdFile !== undefined) {
      auth = {
        method: 'approle',
        roleId: config.vaultRoleId,
        secretId: readSecretFile(config.vaultSecretIdFile),
      };
    } else if (config.vaultTokenFile !== undefined) {
      auth = { method: 'token', token: readSecretFile(config.vaultTokenFile) };
    } else if (config.vaultToken !== undefined) {
      auth = { method: 'token', token: config.vaultToken };
    } else {
      throw new ConfigError(
        'CONFIG_INVALID',
        'set VAULT_TOKEN_FILE, VAULT_TOKEN, or VAULT_ROLE_ID with VAULT_SECRET_ID_FILE',
      );
    }
    const retrying = { clock: deps.clock, deadlineMs: 8000 };
    const transit = await OpenBaoTransitKms.create({
      endpoint: config.vaultAddr,
      keyName: config.vaultTransitKey,
      mountPath: config.vaultTransitMount,
      ...(config.vaultNamespace === undefined ? {} : { namespace: config.vaultNamespace }),
      ...(config.vaultCaCertFile === undefined ? {} : { caFile: config.vaultCaCertFile }),
      auth,
      clock: deps.clock,
    });
    if (deps.ensureTransitKey === true) await transit.ensureKey();
    inner = new RetryingKms(transit, retrying);
  }
  return new CountingKms(inner);
}

/** TLS options when SEALPOST_KAFKA_TLS=true: the CA and, for mTLS, the client certificate and key. */
function kafkaSsl(
  config: SealpostConfig,
): { ca?: string; cert?: string; key?: string } | undefined {
  if (!config.kafkaTls) return undefined;
  const read = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : readFileSync(p, 'utf8');
  const ssl: { ca?: string; cert?: string; key?: string } = {};
  const ca = read(config.kafkaSslCaFile);
  const cert = read(config.kafkaSslCertFile);
  const key = read(config.kafkaSslKeyFile);
  if (ca !== undefined) ssl.ca = ca;
  if (cert !== undefined) ssl.cert = cert;
  if (key !== undefined) ssl.key = key;
  return ssl;
}

/** KAFKA_SSL_BROKERS with TLS on (when set), else KAFKA_BROKERS. */
function brokersOf(config: SealpostConfig): string[] {
  if (config.kafkaTls && config.kafkaSslBrokers !== undefined) return config.kafkaSslBrokers;
  if (config.kafkaBrokers === undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'KAFKA_BROKERS is required (with the local stack: `set -a; . .stack/env; set +a`)',
    );
  }
  return config.kafkaBrokers;
}

/** A Kafka transport (kafkajs) on the configured brokers, with mTLS when certificate files are set. */
export function buildTransport(
  config: SealpostConfig,
  deps: { logger: Logger; clock: Clock; clientId?: string },
): Transport {
  const ssl = kafkaSsl(config);
  return createKafkajsTransport({
    brokers: brokersOf(config),
    clientId: deps.clientId ?? config.kafkaClientId,
    logger: deps.logger,
    nowMs: () => deps.clock.nowMs(),
    ...(ssl === undefined ? {} : { ssl }),
  });
}

/**
 * The Kafka transport on @platformatic/kafka (docs/TRANSPORTS.md), with the same brokers, client id
 * and mTLS settings as {@link buildTransport}. The adapter is loaded only here, on demand: the client
 * is an optional peer dependency, and a missing one fails as CONFIG_INVALID naming the package.
 */
export async function buildPlatformaticTransport(
  config: SealpostConfig,
  deps: { logger: Logger; clock: Clock; clientId?: string },
): Promise<Transport> {
  let adapter: typeof PlatformaticAdapter;
  try {
    adapter = await import('../kafka/platformatic-transport.js');
  } catch {
    const problem =
      'kafkaClient "platformatic" needs the optional peer dependency @platformatic/kafka (npm install @platformatic/kafka; Node >= 22.22)';
    throw new ConfigError('CONFIG_INVALID', problem, [problem]);
  }
  const ssl = kafkaSsl(config);
  return adapter.createPlatformaticTransport({
    brokers: brokersOf(config),
    clientId: deps.clientId ?? config.kafkaClientId,
    logger: deps.logger,
    nowMs: () => deps.clock.nowMs(),
    ...(ssl === undefined ? {} : { ssl }),
  });
}

/** The Schema Registry client on the configured URL. */
export function buildRegistry(config: SealpostConfig): SchemaRegistryClient {
  if (config.schemaRegistryUrl === undefined) {
    throw new ConfigError('CONFIG_INVALID', 'SCHEMA_REGISTRY_URL is required');
  }
  return new SchemaRegistryClient({ url: config.schemaRegistryUrl, fetch: globalThis.fetch });
}

/** The directory follower's own client id (its transport is silent: failures are DirectoryErrors). */
export const DIRECTORY_CLIENT_ID = 'sealpost-directory';

/**
 * The directory source: the file when SEALPOST_DIRECTORY_FILE is set, else the directory topic over a
 * transport of its own — `deps.transport` when given (createSealpost passes one on the client it was
 * asked for), else a kafkajs one (client id {@link DIRECTORY_CLIENT_ID}, silent: failures surface as
 * DirectoryErrors).
 */
export function buildDirectorySource(
  config: SealpostConfig,
  deps: { crypto: CryptoProvider; clock: Clock; transport?: Transport },
): DirectorySource | DirectoryTopicSource {
  if (config.directoryFile !== undefined) return new FileDirectorySource(config.directoryFile);
  return new KafkaDirectoryTopic({
    transport:
      deps.transport ??
      buildTransport(config, {
        logger: createLogger({ level: 'silent' }),
        clock: deps.clock,
        clientId: DIRECTORY_CLIENT_ID,
      }),
    topic: config.directoryTopic,
    randomBytes: (n) => deps.crypto.randomBytes(n),
  });
}

/** The pinned authority key from the config (hex), or a config error naming the variable. */
export function authorityKeyOf(config: SealpostConfig): Uint8Array {
  if (config.authorityPublicKey === undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'SEALPOST_AUTHORITY_PUBLIC_KEY (hex) is required: it pins the directory authority',
    );
  }
  return new Uint8Array(Buffer.from(config.authorityPublicKey, 'hex'));
}

/**
 * A service's keys at start-up: its identity file unwrapped through the KMS (one call per key), the
 * directory validated and refreshed in the background.
 */
export async function openServiceKeys(
  config: SealpostConfig,
  deps: {
    crypto: CryptoProvider;
    clock: Clock;
    kms: Kms;
    onRefreshError?: (err: unknown) => void;
    onAlert?: (alert: DirectoryAlert) => void;
    /** The directory topic's transport (default: a kafkajs one of its own). */
    directoryTransport?: Transport;
  },
): Promise<ServiceKeys> {
  if (config.identityFile === undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'SEALPOST_IDENTITY_FILE is required: the service identity key file',
    );
  }
  return ServiceKeys.open({
    identityPath: config.identityFile,
    kms: deps.kms,
    crypto: deps.crypto,
    clock: deps.clock,
    authorityPublicKey: authorityKeyOf(config),
    directorySource: buildDirectorySource(config, {
      crypto: deps.crypto,
      clock: deps.clock,
      ...(deps.directoryTransport === undefined ? {} : { transport: deps.directoryTransport }),
    }),
    directoryState: new FileDirectoryStateStore(config.directoryStateFile),
    refreshIntervalMs: 30_000,
    ...(deps.onRefreshError === undefined ? {} : { onRefreshError: deps.onRefreshError }),
    ...(deps.onAlert === undefined ? {} : { onAlert: deps.onAlert }),
  });
}

/**
 * The service's identity file as an IdentitySource: pass it as `identitySource` to a SealedProducer
 * (and SealedConsumer) built from this config, so a `keys rotate` + `directory publish` reaches the
 * running service without a restart (docs/OPERATIONS.md, key lifecycle).
 */
export function identitySourceOf(
  config: SealpostConfig,
  deps: { crypto: CryptoProvider; kms: Kms },
): IdentitySource {
  if (config.identityFile === undefined) {
    throw new ConfigError(
      'CONFIG_INVALID',
      'SEALPOST_IDENTITY_FILE is required: the service identity key file',
    );
  }
  return identityFileSource(config.identityFile, deps);
}

/**
 * The envelope suite per topic from SEALPOST_SUITE_POLICY and SEALPOST_CLASSICAL_OPENS_SUITE2 (docs/SECURITY.md
 * "Post-quantum sealing"): pass it as `suitePolicy` to every SealedProducer and SealedConsumer built
 * from this config.
 */
export function suitePolicyOf(config: SealpostConfig): SuitePolicy {
  return new SuitePolicy({
    topics: config.suitePolicy,
    classicalOpensSuite2: config.classicalOpensSuite2,
  });
}

/** Opens and validates the key directory against the pinned authority key. */
export async function openKeyDirectory(
  config: SealpostConfig,
  deps: { crypto: CryptoProvider; clock: Clock; onAlert?: (alert: DirectoryAlert) => void },
): Promise<KeyDirectory> {
  return KeyDirectory.open({
    crypto: deps.crypto,
    clock: deps.clock,
    authorityPublicKey: authorityKeyOf(config),
    source: buildDirectorySource(config, deps),
    state: new FileDirectoryStateStore(config.directoryStateFile),
    ...(deps.onAlert === undefined ? {} : { onAlert: deps.onAlert }),
  });
}
