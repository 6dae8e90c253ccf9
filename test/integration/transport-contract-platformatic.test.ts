/**
 * The Transport contract (test/contract/transport-contract.ts) on the @platformatic/kafka adapter and
 * the real broker, with the same consumer options as the kafkajs run.
 */
import { createPlatformaticTransport } from '../../src/kafka/platformatic-transport.js';
import { createLogger } from '../../src/observability/logger.js';
import { transportContract } from '../contract/transport-contract.js';
import { getEndpoints } from '../support/endpoints.js';

transportContract('@platformatic/kafka on the real broker', () => {
  const endpoints = getEndpoints();
  const logger = createLogger({ level: 'silent', name: 'transport-contract' });
  return Promise.resolve({
    client: () =>
      createPlatformaticTransport({
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
