/**
 * The chaos scenarios' producer, a separate process (it can be killed mid-batch): a real
 * SealedProducer sending batches of Orders until SIGTERM. Before each send it records the payload ids
 * it is about to send (`try`), after it every acknowledged message (`ack`); a SEND_FAILED is recorded
 * (`fail`) and its exact sealed bytes re-sent with `resend()` until acknowledged, as docs/API.md tells
 * an application to. Every ledger entry is fsynced before the process goes on.
 */
import { SealedProducer, SendFailedError } from '../../src/pipeline/sealed-producer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { ORDER_SCHEMA } from '../support/pipeline-world.js';
import { LedgerWriter } from './ledger.js';
import { loadParty, readChildConfig } from './parties.js';

const config = readChildConfig();
const party = await loadParty(config, `chaos-producer-${config.runId ?? ''}`);
const ledger = new LedgerWriter(config.ledger);
const producer = new SealedProducer({
  transport: party.transport,
  registry: new SchemaRegistryClient({ url: config.schemaRegistryUrl, fetch: globalThis.fetch }),
  crypto: party.crypto,
  clock: systemClock,
  identity: party.identity,
  directory: party.directory,
  valueSchemas: { [config.topic]: ORDER_SCHEMA },
});
await producer.connect();
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.stdout.write('RUNNING\n');
const batch = config.batch ?? 20;
let seq = 0;
while (!stopping) {
  const ids = Array.from({ length: batch }, (_, i) => `${config.runId ?? 'r'}-${seq + i}`);
  seq += batch;
  ledger.append({ k: 'try', n: ids, t: Date.now() });
  const messages = ids.map((n, i) => ({
    key: `k${(seq + i) % 17}`,
    value: { id: n, cents: seq + i, note: '' },
  }));
  let sent;
  try {
    sent = await producer.send({ topic: config.topic, messages });
  } catch (err) {
    if (!(err instanceof SendFailedError)) throw err;
    let pending = err;
    for (;;) {
      ledger.append({
        k: 'fail',
        ids: pending.pending.messages.flat().map((m) => m.messageId),
        code: pending.code,
        t: Date.now(),
      });
      try {
        sent = await producer.resend(pending.pending);
        break;
      } catch (again) {
        if (!(again instanceof SendFailedError)) throw again;
        pending = again;
      }
    }
  }
  // send() answers grouped by partition, so the payload ids are not paired here; the consumers record
  // both, and the checker matches hand-outs to the tried payload ids.
  const t = Date.now();
  ledger.append(
    ...sent.map((s) => ({ k: 'ack' as const, id: s.messageId, p: s.partition, o: s.offset, t })),
  );
  if (config.intervalMs !== undefined && config.intervalMs > 0)
    await new Promise((r) => setTimeout(r, config.intervalMs));
}
await producer.close();
party.identity.close();
ledger.close();
process.exit(0);
