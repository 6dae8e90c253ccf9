import { randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import pino from 'pino';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import { createPlatformaticTransport } from '../../src/kafka/platformatic-transport.js';
import type { Transport, TopicSpec } from '../../src/kafka/transport.js';
import { getEndpoints } from './endpoints.js';

/** A quiet logger for tests (kafkajs's own chatter stays out of the test output). */
export const testLogger = pino({ level: process.env.SEALPOST_TEST_LOG ?? 'silent' });

/** The Kafka clients the tests can run on (docs/TRANSPORTS.md). */
export type TestTransportKind = 'kafkajs' | 'platformatic';

/**
 * Which adapter `testTransport` builds: `SEALPOST_TEST_TRANSPORT=platformatic` runs the same tests on
 * the @platformatic/kafka adapter (CI does, for the contract suite and the pipeline tests); kafkajs
 * otherwise. Anything else is refused rather than silently run on kafkajs.
 */
export function testTransportKind(): TestTransportKind {
  const kind = process.env.SEALPOST_TEST_TRANSPORT ?? 'kafkajs';
  if (kind !== 'kafkajs' && kind !== 'platformatic') {
    throw new Error(`SEALPOST_TEST_TRANSPORT must be kafkajs or platformatic, not ${kind}`);
  }
  return kind;
}

/** A Transport on the stack's PLAINTEXT listener, on the adapter `testTransportKind` names. */
export function testTransport(clientId = 'sealpost-test'): Transport {
  return testTransportOn({ brokers: getEndpoints().kafkaBrokers, clientId });
}

/**
 * A Transport on the adapter `testTransportKind` names, with the given brokers and TLS settings
 * (e.g. the stack's mTLS listener: `ssl: { ca, cert, key }`). `quickFailure` shortens the timeouts
 * and the client's own retries (1 retry after 50 ms, on either adapter) for tests that cut the
 * broker and wait for the failure.
 */
export function testTransportOn(options: {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl?: ConnectionOptions;
  readonly quickFailure?: boolean;
}): Transport {
  const common = {
    brokers: options.brokers,
    clientId: options.clientId,
    logger: testLogger,
    nowMs: () => Date.now(),
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
    ...(options.quickFailure === true ? { connectionTimeoutMs: 1000, requestTimeoutMs: 3000 } : {}),
  };
  if (testTransportKind() === 'platformatic')
    return createPlatformaticTransport({
      ...common,
      ...(options.quickFailure === true ? { retries: 1, retryDelayMs: 50 } : {}),
    });
  // The idempotent producer needs at least one retry of its own.
  const retry = { retries: 1, initialRetryTime: 50, maxRetryTime: 200 };
  return createKafkajsTransport({
    ...common,
    ...(options.quickFailure === true ? { kafkaConfig: { retry }, producerConfig: { retry } } : {}),
  });
}

/** A fresh topic name for one test. */
export function freshTopic(purpose: string): string {
  return `test-${purpose}-${randomBytes(4).toString('hex')}`;
}

/** Creates topics with the admin client and disconnects. */
export async function createTopics(
  transport: Transport,
  specs: readonly TopicSpec[],
): Promise<void> {
  const admin = transport.admin();
  await admin.connect();
  try {
    await admin.createTopics(specs);
  } finally {
    await admin.disconnect();
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; then throws with `what`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Waits until `groupId`'s committed offset on every listed partition of `topic` has reached `offset`
 * (a positive signal that the group processed everything before it: consumers commit only after a
 * record was handed out or dead-lettered).
 */
export async function waitForCommitted(
  transport: Transport,
  groupId: string,
  topic: string,
  offsets: Readonly<Record<number, bigint>>,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    async () => {
      const admin = transport.admin();
      await admin.connect();
      try {
        const committed = await admin.fetchCommittedOffsets(groupId, [topic]);
        return Object.entries(offsets).every(([p, want]) => {
          if (want <= 0n) return true; // an empty partition: nothing to commit
          const c = committed.find((x) => x.topic === topic && x.partition === Number(p));
          return c !== undefined && BigInt(c.offset) >= want;
        });
      } finally {
        await admin.disconnect();
      }
    },
    `group ${groupId} to commit ${topic} up to ${JSON.stringify(offsets, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
    timeoutMs,
  );
}
