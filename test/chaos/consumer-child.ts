/**
 * A chaos scenario's consumer, a separate process (it can be killed): a real SealedConsumer whose
 * handler records every hand-out (group, member, message id, payload id, partition, offset,
 * redelivery flag) in its ledger, fsynced before the handler returns — so the ledger holds everything
 * the handler saw, even after SIGKILL. Alerts go to stderr. SIGTERM closes it cleanly.
 */
import { SealedConsumer } from '../../src/pipeline/sealed-consumer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { Order } from '../support/pipeline-world.js';
import { LedgerWriter } from './ledger.js';
import { loadParty, readChildConfig } from './parties.js';

const config = readChildConfig();
const group = config.group!;
const member = config.member ?? group;
const party = await loadParty(config, `chaos-${member}`);
const ledger = new LedgerWriter(config.ledger);
const consumer = new SealedConsumer({
  transport: party.transport,
  groupId: group,
  topics: [config.topic],
  registry: new SchemaRegistryClient({ url: config.schemaRegistryUrl, fetch: globalThis.fetch }),
  crypto: party.crypto,
  clock: systemClock,
  identity: party.identity,
  directory: party.directory,
  kms: party.kms,
  stateTopic: config.stateTopic!,
  deadLetterTopic: config.deadLetterTopic!,
  fromBeginning: true,
  consumerOptions: { retryInitialDelayMs: 100, retryMaxDelayMs: 2000 },
  onAlert: (a) => process.stderr.write(`ALERT ${member} ${a.topic}/${a.partition} ${a.code}\n`),
});
await consumer.run({
  eachMessage: (d) => {
    ledger.append({
      k: 'out',
      g: group,
      m: member,
      id: d.messageId,
      n: (d.value as Order).id,
      p: d.partition,
      o: d.offset,
      r: d.redelivery,
      t: Date.now(),
    });
    return Promise.resolve();
  },
});
process.stdout.write('RUNNING\n');
process.on('SIGTERM', () => {
  void consumer.close().then(() => {
    party.identity.close();
    ledger.close();
    process.exit(0);
  });
});
