/**
 * The @platformatic/kafka adapter of the transport port (docs/TRANSPORTS.md): a maintained, pure
 * TypeScript Kafka client (Node >= 22.22 or >= 24.6). It is an optional peer dependency of sealpost,
 * so nothing reachable from the package's main entry imports this file: users import it from
 * `sealpost/platformatic` and pass the transport to createSealpost. Only the platformatic-*.ts files
 * of src/kafka/ import @platformatic/kafka.
 *
 * Defaults as the kafkajs adapter: idempotent producer, acks=all, gzip batches, no auto-commit,
 * explicit offset resolution, no automatic topic creation.
 */
import { PlatformaticAdmin } from './platformatic-admin.js';
import { PlatformaticConsumer } from './platformatic-consumer.js';
import { platformaticNodeProblem } from './platformatic-node-version.js';
import {
  resolvePlatformaticOptions,
  type PlatformaticTransportOptions,
} from './platformatic-options.js';
import { PlatformaticProducer } from './platformatic-producer.js';
import type { Transport } from './transport.js';
import { TransportError } from './transport-error.js';

export type { PlatformaticTransportOptions } from './platformatic-options.js';

/** Builds a Transport backed by @platformatic/kafka; UNSUPPORTED_VERSION on a Node it cannot run on. */
export function createPlatformaticTransport(options: PlatformaticTransportOptions): Transport {
  const problem = platformaticNodeProblem();
  if (problem !== undefined) throw new TransportError('UNSUPPORTED_VERSION', problem);
  const client = resolvePlatformaticOptions(options);
  return {
    producer: (producerOptions = {}) => new PlatformaticProducer(client, producerOptions),
    consumer: (consumerOptions) => new PlatformaticConsumer(client, consumerOptions),
    admin: () => new PlatformaticAdmin(client),
  };
}
