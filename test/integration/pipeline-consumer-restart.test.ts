/**
 * Issues #14.2 / #15.5: a consumer must not stop silently. The consumer's Kafka connections go
 * through a TCP proxy and its kafkajs client is told not to restart by itself after a failure
 * (`restartOnFailure: false`): cutting the proxy makes the kafkajs adapter report a crash from which
 * the client does not restart. Invariants, from ledgers: the consumer restarts its transport consumer
 * with backoff (alert CONSUMER_RESTARTING) and, once the broker is reachable again, every sent message
 * id is handed out and the group's committed offsets reach the end of every partition; when the broker
 * stays unreachable it gives up after its bound (CONSUMER_FAILED, `health().ok` false, `onFailed`).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import type { PipelineError } from '../../src/pipeline/pipeline-error.js';
import { getEndpoints } from '../support/endpoints.js';
import { startConsumer } from '../support/pipeline-parties.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { testLogger, waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const PARTITIONS = 2;
const sc = useScenario({
  purpose: 'pipe-restart',
  clientId: 'pipeline-consumer-restart',
  partitions: PARTITIONS,
  services: (_, defaults) => [...defaults, { name: 'audit', send: [], receive: ['audit-topic'] }],
});
const { topic, t, transport } = sc;

let proxy: TcpProxy;

beforeAll(async () => {
  const [host, port] = getEndpoints().kafkaBrokers[0]!.split(':') as [string, string];
  proxy = new TcpProxy(host, Number(port));
  await proxy.start();
});

afterAll(async () => {
  await proxy?.stop();
});

async function committedAtEnd(group: string): Promise<boolean> {
  const admin = transport.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchCommittedOffsets(group, [topic]);
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.every((e) => committed.find((c) => c.partition === e.partition)?.offset === e.high);
  } finally {
    await admin.disconnect();
  }
}

describe('a crashed transport consumer is restarted, and a consumer that cannot be is failed (#14.2)', () => {
  it('restarts with backoff and loses nothing; gives up after its bound with health failed', async () => {
    // Every connection of the consumer's client goes through the proxy (bootstrap and advertised).
    const proxied = createKafkajsTransport({
      brokers: [`127.0.0.1:${proxy.port}`],
      clientId: 'pipeline-consumer-restart',
      logger: testLogger,
      nowMs: () => Date.now(),
      connectionTimeoutMs: 1000,
      requestTimeoutMs: 3000,
      kafkaConfig: {
        socketFactory: ({ onConnect }) =>
          connect({ host: '127.0.0.1', port: proxy.port }, onConnect),
        retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 },
      },
      // The client gives up at its first failure and does not restart itself: a crash.
      consumerConfig: {
        retry: { retries: 0, restartOnFailure: () => Promise.resolve(false) },
      },
    });
    const alerts: string[] = [];
    const failures: PipelineError[] = [];
    const onFailed = (e: PipelineError) => failures.push(e);
    const group = `billing-${topic}`;
    const billing = await startConsumer(sc.world, proxied, 'billing', {
      groupId: group,
      topics: [topic],
      stateTopic: t.state,
      deadLetterTopic: t.dlq,
      maxRetryDelayMs: 1000,
      restart: { initialDelayMs: 200, maxDelayMs: 1000, maxAttempts: 4 },
      onAlert: (a) => alerts.push(a.code),
    });
    billing.consumer.onFailed(onFailed);
    sc.defer(() => billing.consumer.close());
    const orders = await sc.producer();
    const sent: string[] = [];
    const send = async (tag: string, n: number) => {
      const results = await orders.producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          key: `${tag}-${i}`,
          value: { id: `${tag}-${i}`, cents: i, note: tag },
        })),
      });
      sent.push(...results.map((r) => r.messageId));
    };

    await send('before', 200);
    await waitFor(() => sent.every((id) => billing.delivered.has(id)), 'deliveries before the cut');

    // Cut: the adapter reports a crash the client does not restart from; the consumer restarts.
    await proxy.stop();
    await waitFor(() => alerts.includes('CONSUMER_RESTARTING'), 'CONSUMER_RESTARTING', 60_000);
    await send('during', 200);
    await proxy.start();
    await waitFor(
      () => sent.every((id) => billing.delivered.has(id)),
      'every sent message handed out after the restart',
      90_000,
    );
    await waitFor(() => committedAtEnd(group), 'committed offsets at the end', 30_000);
    expect(sent.filter((id) => !billing.delivered.has(id))).toEqual([]);
    expect(failures).toEqual([]);
    expect(billing.consumer.health().ok).toBe(true);

    // The broker stays unreachable: after its bound the consumer fails, visibly.
    await proxy.stop();
    await waitFor(() => failures.length > 0, 'CONSUMER_FAILED after the restart bound', 120_000);
    expect(failures.map((e) => e.code)).toEqual(['CONSUMER_FAILED']);
    expect(alerts).toContain('CONSUMER_FAILED');
    expect(billing.consumer.health()).toMatchObject({ ok: false, state: 'failed' });
    await proxy.start();
  });
});
