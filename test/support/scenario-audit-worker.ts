/**
 * The options of an audit worker (docs/AUDIT.md) over a scenario: the world's `audit` identity,
 * directory, KMS and registry, the scenario's metadata, checkpoint, state and dead-letter topics, one
 * log in `store`, a fresh metrics registry and the test logger. The caller names the group and adds or
 * replaces anything else.
 */
import { Registry } from 'prom-client';
import { singleAuditLogStores } from '../../src/audit/audit-log-stores.js';
import type { AuditStore } from '../../src/audit/audit-store.js';
import type { AuditWorkerOptions } from '../../src/audit/audit-worker.js';
import { systemClock } from '../../src/runtime/clock.js';
import type { Scenario } from './scenario.js';
import { testLogger } from './test-transport.js';

export async function scenarioAuditWorkerOptions(
  sc: Scenario,
  store: AuditStore,
  groupId: string,
): Promise<AuditWorkerOptions> {
  return {
    transport: sc.transport,
    registry: sc.world.registry(),
    crypto: sc.world.crypto,
    clock: systemClock,
    identity: await sc.world.identity('audit'),
    directory: await sc.world.directory(),
    kms: sc.world.kms,
    logs: singleAuditLogStores(store),
    metadataTopic: sc.t.metadata,
    checkpointTopic: sc.checkpoints,
    stateTopic: sc.t.state,
    deadLetterTopic: sc.t.dlq,
    groupId,
    promRegistry: new Registry(),
    logger: testLogger,
  };
}
