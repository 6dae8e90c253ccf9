/**
 * The Transport contract (test/contract/transport-contract.ts) on the @platformatic/kafka adapter and
 * the real broker, with the same consumer options as the kafkajs run.
 */
import { describe, expect, it } from 'vitest';
import { createPlatformaticTransport } from '../../src/kafka/platformatic-transport.js';
import { platformaticNodeProblem } from '../../src/kafka/platformatic-node-version.js';
import { createLogger } from '../../src/observability/logger.js';
import { transportContract } from '../contract/transport-contract.js';
import { getEndpoints } from '../support/endpoints.js';

// @platformatic/kafka runs on Node >= 22.22 or >= 24.6 (CI runs the contract on Node 24); on an
// older Node the adapter refuses up front (test/integration/transport-platformatic.test.ts).
const unsupported = platformaticNodeProblem();
if (unsupported !== undefined) {
  describe(`Transport contract: @platformatic/kafka on this Node (${process.versions.node})`, () => {
    it('is not run: the adapter refuses this Node up front with UNSUPPORTED_VERSION', () => {
      const refusal = (() => {
        try {
          createPlatformaticTransport({
            brokers: ['127.0.0.1:1'],
            clientId: 'unsupported-node',
            logger: createLogger({ level: 'silent', name: 'transport-contract' }),
            nowMs: () => 0,
          });
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(refusal).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    });
  });
} else
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
