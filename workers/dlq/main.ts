/**
 * The dead-letter worker, runnable on its own: `node dist/workers/dlq/main.js` (or
 * `npm run worker:dlq`). Consumes the dead-letter topic into the quarantine store; never decrypts.
 * Configuration from the environment / SEALPOST_CONFIG (see `sealpost config check`); `/healthz`
 * and `/metrics` on SEALPOST_HTTP_PORT. Stops cleanly on SIGTERM and SIGINT; the npm script `exec`s
 * node, so a signal sent to `npm` reaches the worker (docs/OPERATIONS.md, "Running the workers").
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { buildTransport, openKeyDirectory } from '../../src/app/compose.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { DeadLetterWorker } from '../../src/dlq/dead-letter-worker.js';
import { openConfiguredQuarantineStore } from '../../src/stores/open-stores.js';
import { BrokerProbe } from '../../src/observability/broker-probe.js';
import { createLogger } from '../../src/observability/logger.js';
import { systemClock } from '../../src/runtime/clock.js';
import { readEnv } from '../../src/runtime/env.js';
import { workerConsoleRoutes } from '../../src/cli/console-command.js';
import { runWorker } from '../shared/run-worker.js';
import { startOrExit, workerConfig } from '../shared/worker-config.js';

const crypto = await createCryptoProvider();
const config = workerConfig('sealpost-dlq-worker', 'dlq-worker', readEnv(), { crypto });
/** The worker's consumer group (SEALPOST_WORKER_GROUP; the probe measures its lag). */
const DLQ_GROUP = config.workerGroupId ?? 'sealpost-dlq-worker';
await startOrExit('sealpost-dlq-worker', async () => {
  const logger = createLogger({ level: config.logLevel, name: 'sealpost-dlq-worker' });
  const directory = await openKeyDirectory(config, { crypto, clock: systemClock });
  directory.startAutoRefresh(30_000, (err) =>
    logger.warn({ code: (err as { code?: string }).code }, 'directory refresh failed'),
  );
  if (config.store === 'sqlite') mkdirSync(dirname(config.quarantineDb), { recursive: true });
  const store = await openConfiguredQuarantineStore(config);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const transport = buildTransport(config, {
    logger,
    clock: systemClock,
    clientId: 'sealpost-dlq-worker',
  });
  const worker = new DeadLetterWorker({
    transport,
    store,
    crypto,
    clock: systemClock,
    signingKeysOf: (identity) =>
      directory
        .records()
        .filter((r) => r.identity === identity && r.status !== 'revoked')
        .map((r) => r.signPublicKey),
    deadLetterTopic: config.deadLetterTopic,
    groupId: DLQ_GROUP,
    sessionTimeoutMs: config.consumerSessionTimeoutMs,
    registry,
    logger,
  });
  await runWorker({
    name: 'sealpost-dlq-worker',
    worker,
    registry,
    port: config.httpPort,
    host: config.httpHost,
    logger,
    probe: new BrokerProbe({
      admin: () => transport.admin(),
      groupId: DLQ_GROUP,
      topics: [config.deadLetterTopic],
      clock: systemClock,
      unreachableAfterMs: config.brokerUnreachableAfterMs,
      registry,
      lagMetric: {
        name: 'sealpost_dlq_lag_records',
        help: 'Dead letters not yet committed by the worker: high watermark minus committed offset',
      },
      logger,
    }),
    // The operator console under /console, when SEALPOST_WORKER_CONSOLE=on (docs/CONSOLE.md).
    ...(config.workerConsole
      ? {
          extra: await workerConsoleRoutes({
            config,
            crypto,
            store,
            metricsText: () => registry.metrics(),
            logger: logger.child({ component: 'console' }),
          }),
        }
      : {}),
    beforeStop: () => directory.stopAutoRefresh(),
  });
});
