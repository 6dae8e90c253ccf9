/**
 * A SealedConsumer as a separate process, for the crash test: it loads an identity, the local KMS
 * keyring and a directory file written by the parent test, consumes, and appends `offset partition
 * messageId r|n` (r: the delivery's redelivery hint was set) to an output file synchronously in its handler (so what the handler saw survives SIGKILL
 * in the page cache). SIGTERM closes it cleanly. Config: JSON file named by argv[2].
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import { loadIdentity, readIdentityFile } from '../../src/keys/identity-file.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { SealedConsumer } from '../../src/pipeline/sealed-consumer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { getEndpoints } from './endpoints.js';
import { testTransport } from './test-transport.js';

interface ChildConfig {
  dir: string;
  identity: string;
  authorityPublicKey: string;
  group: string;
  topic: string;
  stateTopic: string;
  deadLetterTopic: string;
  out: string;
  /** Milliseconds to sleep every 25 messages (so a kill lands mid-batch). */
  slowMs: number;
  /** `redeliveryMarkAhead` of the consumer (default: the consumer's). */
  markAhead?: number;
  /** Leave the session timeout and heartbeat interval at SealedConsumer's defaults. */
  defaultSession?: boolean;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildConfig;
const crypto = await createCryptoProvider();
const kms = await LocalKms.open({ path: join(config.dir, 'kek.json'), crypto, clock: systemClock });
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
const consumer = new SealedConsumer({
  transport: testTransport(`child-${config.identity}`),
  groupId: config.group,
  topics: [config.topic],
  registry: new SchemaRegistryClient({
    url: getEndpoints().schemaRegistryUrl,
    fetch: globalThis.fetch,
  }),
  crypto,
  clock: systemClock,
  identity,
  directory,
  kms,
  stateTopic: config.stateTopic,
  deadLetterTopic: config.deadLetterTopic,
  fromBeginning: true,
  ...(config.defaultSession === true
    ? {}
    : { consumerOptions: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 } }),
  commitEveryRecords: 200,
  ...(config.markAhead === undefined ? {} : { redeliveryMarkAhead: config.markAhead }),
  onAlert: (a) => appendFileSync(config.out, `ALERT ${a.topic} ${a.partition} ${a.code}\n`),
});
let n = 0;
await consumer.run({
  eachMessage: async (d) => {
    appendFileSync(
      config.out,
      `${d.offset} ${d.partition} ${d.messageId} ${d.redelivery ? 'r' : 'n'}\n`,
    );
    if (++n % 25 === 0 && config.slowMs > 0) await new Promise((r) => setTimeout(r, config.slowMs));
  },
});
appendFileSync(config.out, 'RUNNING\n');
process.on('SIGTERM', () => {
  void consumer.close().then(() => {
    identity.close();
    process.exit(0);
  });
});
