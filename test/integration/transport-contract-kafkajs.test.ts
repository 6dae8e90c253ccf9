/** The Transport contract (test/contract/transport-contract.ts) on the kafkajs adapter and the real broker. */
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import { createLogger } from '../../src/observability/logger.js';
import { transportContract } from '../contract/transport-contract.js';
import { getEndpoints } from '../support/endpoints.js';

transportContract('kafkajs on the real broker', () => {
  const endpoints = getEndpoints();
  const logger = createLogger({ level: 'silent', name: 'transport-contract' });
  return Promise.resolve({
    client: () =>
      createKafkajsTransport({
        brokers: endpoints.kafkaBrokers,
        clientId: 'transport-contract',
        logger,
        nowMs: () => Date.now(),
      }),
    waitMs: 45_000,
    consumerOptions: {
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 250,
      retryInitialDelayMs: 50,
    },
  });
});
