/**
 * Child process of the outbox crash test: queues `count` metadata events in an emitter with an outbox
 * whose producer never acknowledges (as when the broker is unreachable), prints `queued`, and waits to
 * be killed. Arguments: outbox path, count.
 */
import { createCryptoProvider } from '../../src/crypto/index.js';
import { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import type { SealedProducer } from '../../src/pipeline/sealed-producer.js';
import { systemClock } from '../../src/runtime/clock.js';

const [outboxPath, countText] = process.argv.slice(2);
const crypto = await createCryptoProvider();
const neverAcknowledges = {
  sendRaw: () => new Promise<never>(() => undefined),
} as unknown as SealedProducer;
const emitter = new MetadataEventEmitter({
  producer: neverAcknowledges,
  topic: 'unused',
  crypto,
  clock: systemClock,
  actor: 'orders',
  outboxPath: outboxPath!,
  maxBatch: 1_000_000,
  flushIntervalMs: 3_600_000,
});
for (let i = 0; i < Number(countText); i++)
  emitter.emit({ type: 'session_opened', topic: 'crash-test', partition: i });
process.stdout.write('queued\n');
setInterval(() => undefined, 60_000);
