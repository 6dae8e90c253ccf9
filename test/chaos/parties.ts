/**
 * What the chaos children share: their JSON configuration (written by the runner into the world's
 * folder) and how they load an identity, the local KMS keyring and the signed directory from it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import { loadIdentity, readIdentityFile } from '../../src/keys/identity-file.js';
import type { LoadedIdentity } from '../../src/keys/identity.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import type { Transport } from '../../src/kafka/transport.js';
import { systemClock } from '../../src/runtime/clock.js';
import { testTransportOn } from '../support/test-transport.js';

export interface ChildConfig {
  /** The world's folder: kek.json, <identity>.identity.json, directory.json. */
  readonly dir: string;
  readonly identity: string;
  readonly authorityPublicKey: string;
  readonly topic: string;
  /** Bootstrap brokers (the cluster's, or the fault proxies'). */
  readonly brokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** This process's ledger file. */
  readonly ledger: string;
  /** Consumer: group, member name, state and dead-letter topics. */
  readonly group?: string;
  readonly member?: string;
  readonly stateTopic?: string;
  readonly deadLetterTopic?: string;
  /** Producer: messages per send, pause between sends, a prefix for payload ids. */
  readonly batch?: number;
  readonly intervalMs?: number;
  readonly runId?: string;
  /**
   * Consumer: a handler that throws (issue #15 "a handler that throws"): for payload ids whose number
   * is `transientModulo`-1 modulo `transientModulo`, the first `transientTimes` calls; for
   * `permanentPayload`, every call. Each throw is recorded in `<ledger>.throws` (JSON lines).
   */
  readonly handlerFaults?: {
    readonly transientModulo?: number;
    readonly transientTimes?: number;
    readonly permanentPayload?: string;
  };
  /** Consumer: partitions handled at once (SealedConsumer `partitionsConsumedConcurrently`). */
  readonly partitionsConsumedConcurrently?: number;
  /** Consumer: wrap the replay-state key with OpenBao Transit (token from VAULT_TOKEN). */
  readonly transitKms?: { readonly endpoint: string; readonly keyName: string };
}

export function readChildConfig(): ChildConfig {
  return JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildConfig;
}

export interface ChildParty {
  readonly crypto: CryptoProvider;
  readonly kms: LocalKms;
  readonly identity: LoadedIdentity;
  readonly directory: KeyDirectory;
  readonly transport: Transport;
}

export async function loadParty(config: ChildConfig, clientId: string): Promise<ChildParty> {
  const crypto = await createCryptoProvider();
  const kms = await LocalKms.open({
    path: join(config.dir, 'kek.json'),
    crypto,
    clock: systemClock,
  });
  const identity = await loadIdentity(
    await readIdentityFile(join(config.dir, `${config.identity}.identity.json`), crypto),
    { crypto, kms },
  );
  const directory = await KeyDirectory.open({
    crypto,
    authorityPublicKey: new Uint8Array(Buffer.from(config.authorityPublicKey, 'base64')),
    source: new FileDirectorySource(join(config.dir, 'directory.json')),
    clock: systemClock,
  });
  // The adapter SEALPOST_TEST_TRANSPORT names (kafkajs by default; the children inherit the runner's
  // environment and Node).
  const transport = testTransportOn({ brokers: config.brokers, clientId });
  return { crypto, kms, identity, directory, transport };
}
