/**
 * vitest globalSetup of the `integration` project: makes sure Kafka, the Schema Registry and OpenBao
 * answer before any integration test runs. Endpoints given by the environment (KAFKA_BROKERS, ...)
 * are used as they are; otherwise the local stack is started (`npm run stack -- up`, a no-op when it
 * already runs). A service that does not answer fails the whole run with a message saying which one
 * and what to do; nothing is skipped.
 */
import { Kafka, logLevel } from 'kafkajs';
import { stackUp } from '../../stack/stack.js';
import { endpointsGivenByEnvironment, getEndpoints, type Endpoints } from './endpoints.js';

async function kafkaAnswers(brokers: string[]): Promise<string | undefined> {
  const admin = new Kafka({
    clientId: 'sealpost-global-setup',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5_000,
    retry: { retries: 2 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 ? undefined : 'no broker in the cluster description';
  } catch (err) {
    return (err as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function httpAnswers(
  url: string,
  headers: Record<string, string> = {},
): Promise<string | undefined> {
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer();
    return res.ok ? undefined : `HTTP ${res.status}`;
  } catch (err) {
    return (err as Error).message;
  }
}

async function checkServices(e: Endpoints): Promise<void> {
  const [kafka, registry, vault] = await Promise.all([
    kafkaAnswers(e.kafkaBrokers),
    httpAnswers(`${e.schemaRegistryUrl}/subjects`),
    httpAnswers(`${e.vaultAddr}/v1/auth/token/lookup-self`, { 'X-Vault-Token': e.vaultToken }),
  ]);
  const problems = [
    kafka === undefined ? undefined : `Kafka at ${e.kafkaBrokers.join(',')}: ${kafka}`,
    registry === undefined ? undefined : `Schema Registry at ${e.schemaRegistryUrl}: ${registry}`,
    vault === undefined ? undefined : `OpenBao at ${e.vaultAddr} (with VAULT_TOKEN): ${vault}`,
  ].filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    throw new Error(
      `integration tests need real services, and these do not answer:\n  - ${problems.join('\n  - ')}\n` +
        'Start the local stack with `npm run stack -- up` (see README, "Local stack"), or fix the endpoint variables.',
    );
  }
}

export default async function setup(): Promise<void> {
  if (!endpointsGivenByEnvironment()) {
    try {
      // PostgreSQL too: the store contract runs on a real server (test/integration/stores-postgres.test.ts).
      await stackUp({ with: ['postgres'] });
    } catch (err) {
      throw new Error(
        `could not start the local stack for the integration tests: ${(err as Error).message}`,
      );
    }
  }
  await checkServices(getEndpoints());
}
