/**
 * The audit worker, runnable on its own: `node dist/workers/audit/main.js` (or `npm run
 * worker:audit`). Runs as the `audit` identity (SEALPOST_IDENTITY_FILE), consumes the sealed metadata
 * topic into one tamper-evident log per partition (beside SEALPOST_AUDIT_DB), publishes signed checkpoints to
 * SEALPOST_CHECKPOINT_TOPIC. `/healthz` and `/metrics` on SEALPOST_HTTP_PORT; SIGTERM/SIGINT stop it
 * cleanly (after a final checkpoint). The npm script `exec`s node, so a signal sent to `npm` reaches
 * the worker (docs/OPERATIONS.md, "Running the workers").
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  buildKms,
  buildRegistry,
  buildTransport,
  openServiceKeys,
  identitySourceOf,
  suitePolicyOf,
} from '../../src/app/compose.js';
import { AuditWorker } from '../../src/audit/audit-worker.js';
import { openConfiguredAuditLogStores } from '../../src/stores/open-stores.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { BrokerProbe } from '../../src/observability/broker-probe.js';
import { createLogger } from '../../src/observability/logger.js';
import { systemClock } from '../../src/runtime/clock.js';
import { readEnv } from '../../src/runtime/env.js';
import { runWorker } from '../shared/run-worker.js';
import { startOrExit, workerConfig } from '../shared/worker-config.js';

const crypto = await createCryptoProvider();
const config = workerConfig('sealpost-audit-worker', 'audit-worker', readEnv(), { crypto });
/** The worker's consumer group (SEALPOST_WORKER_GROUP; the probe measures its lag). */
const AUDIT_GROUP = config.workerGroupId ?? 'sealpost-audit';
await startOrExit('sealpost-audit-worker', async () => {
  const logger = createLogger({ level: config.logLevel, name: 'sealpost-audit-worker' });
  const kms = await buildKms(config, { crypto, clock: systemClock });
  const keys = await openServiceKeys(config, {
    crypto,
    clock: systemClock,
    kms,
    onRefreshError: (err) =>
      logger.warn({ code: (err as { code?: string }).code }, 'directory refresh failed'),
  });
  if (config.store === 'sqlite') mkdirSync(dirname(config.auditDb), { recursive: true });
  // One log per metadata partition: a SQLite file each beside SEALPOST_AUDIT_DB, or one PostgreSQL
  // database holding every log (docs/AUDIT.md, docs/STORES.md).
  const logs = openConfiguredAuditLogStores(config, crypto);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const transport = buildTransport(config, {
    logger,
    clock: systemClock,
    clientId: 'sealpost-audit-worker',
  });
  const worker = new AuditWorker({
    transport,
    groupId: AUDIT_GROUP,
    registry: buildRegistry(config),
    crypto,
    clock: systemClock,
    identity: keys.identity,
    directory: keys.directory,
    kms,
    logs,
    cluster: config.clusterName,
    metadataTopic: config.metadataTopic,
    checkpointTopic: config.checkpointTopic,
    stateTopic: config.stateTopic,
    deadLetterTopic: config.deadLetterTopic,
    sessionTimeoutMs: config.consumerSessionTimeoutMs,
    promRegistry: registry,
    logger,
    // After `keys rotate audit` + `directory publish`, the consumer loads the new key itself.
    // The metadata topic's suite policy (SEALPOST_SUITE_POLICY) applies to the audit worker too.
    consumer: {
      identitySource: identitySourceOf(config, { crypto, kms }),
      suitePolicy: suitePolicyOf(config),
    },
  });
  await runWorker({
    name: 'sealpost-audit-worker',
    worker,
    registry,
    port: config.httpPort,
    host: config.httpHost,
    logger,
    startedFields: () => ({ kmsCalls: kms.counts() }),
    probe: new BrokerProbe({
      admin: () => transport.admin(),
      groupId: AUDIT_GROUP,
      topics: [config.metadataTopic],
      clock: systemClock,
      unreachableAfterMs: config.brokerUnreachableAfterMs,
      registry,
      lagMetric: {
        name: 'sealpost_audit_lag_records',
        help: 'Metadata records not yet committed by the audit worker: high watermark minus committed offset',
      },
      logger,
    }),
    afterStop: async () => {
      keys.close();
      await kms.close();
    },
  });
});
