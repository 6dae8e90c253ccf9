/**
 * A chaos scenario's consumer, a separate process (it can be killed): a real SealedConsumer whose
 * handler records every hand-out (group, member, message id, payload id, partition, offset,
 * redelivery flag) in its ledger, fsynced before the handler returns — so the ledger holds everything
 * the handler saw, even after SIGKILL. Alerts go to stderr. SIGTERM closes it cleanly. A scenario may
 * make the handler throw (`handlerFaults`: the call is recorded as a hand-out first, the throw in
 * `<ledger>.throws`) or wrap the replay-state key with OpenBao Transit (`transitKms`).
 */
import { appendFileSync } from 'node:fs';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
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
const transit =
  config.transitKms === undefined
    ? undefined
    : await OpenBaoTransitKms.create({
        endpoint: config.transitKms.endpoint,
        keyName: config.transitKms.keyName,
        auth: { method: 'token', token: process.env.VAULT_TOKEN ?? '' },
        clock: systemClock,
        requestTimeoutMs: 2000,
      });
const faults = config.handlerFaults;
const calls = new Map<string, number>();
/** Whether the handler throws for this payload id now (see ChildConfig.handlerFaults). */
function throwsFor(n: string): boolean {
  if (faults === undefined) return false;
  const k = (calls.get(n) ?? 0) + 1;
  calls.set(n, k);
  if (n === faults.permanentPayload) return true;
  const modulo = faults.transientModulo;
  const num = Number(n.slice(n.lastIndexOf('-') + 1));
  return modulo !== undefined && num % modulo === modulo - 1 && k <= (faults.transientTimes ?? 0);
}
const consumer = new SealedConsumer({
  transport: party.transport,
  groupId: group,
  topics: [config.topic],
  registry: new SchemaRegistryClient({ url: config.schemaRegistryUrl, fetch: globalThis.fetch }),
  crypto: party.crypto,
  clock: systemClock,
  identity: party.identity,
  directory: party.directory,
  kms: transit ?? party.kms,
  stateTopic: config.stateTopic!,
  deadLetterTopic: config.deadLetterTopic!,
  fromBeginning: true,
  consumerOptions: { retryInitialDelayMs: 100, retryMaxDelayMs: 2000 },
  ...(config.partitionsConsumedConcurrently === undefined
    ? {}
    : { partitionsConsumedConcurrently: config.partitionsConsumedConcurrently }),
  onAlert: (a) => process.stderr.write(`ALERT ${member} ${a.topic}/${a.partition} ${a.code}\n`),
});
const run = (): Promise<void> =>
  consumer.run({
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
      const n = (d.value as Order).id;
      if (throwsFor(n)) {
        appendFileSync(
          `${config.ledger}.throws`,
          `${JSON.stringify({ n, id: d.messageId, p: d.partition, o: d.offset, t: Date.now() })}\n`,
        );
        return Promise.reject(new Error('chaos: the handler fails on purpose'));
      }
      return Promise.resolve();
    },
  });
// What an application must do (docs/OPERATIONS.md, "Under faults"): run() rejects with a retriable error when a service it
// needs at start (the registry) is down, and the consumer stays re-runnable: retry it.
for (let attempt = 1; ; attempt++) {
  try {
    await run();
    break;
  } catch (err) {
    const e = err as { code?: string; retriable?: boolean };
    if (e.retriable !== true || attempt >= 300) throw err;
    process.stderr.write(`${member}: run() failed (${e.code}, retriable); retrying in 1 s\n`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
process.stdout.write('RUNNING\n');
process.on('SIGTERM', () => {
  void consumer.close().then(() => {
    party.identity.close();
    ledger.close();
    void transit?.close();
    process.exit(0);
  });
});
