/**
 * `sealed` metadata events are reported only for what the broker acknowledged (issue #14 item 7): a
 * send that fails while the broker path is cut reports nothing; its resend, once acknowledged, reports
 * each message once. Ledger: the `sealed` events' message ids are exactly the acknowledged ones.
 */
import { describe, expect, it } from 'vitest';
import type { MetadataSink, PipelineEvent } from '../../src/pipeline/metadata-sink.js';
import { SendFailedError } from '../../src/pipeline/sealed-producer.js';
import { getEndpoints } from '../support/endpoints.js';
import { startProducer } from '../support/pipeline-parties.js';
import { ORDER_SCHEMA } from '../support/pipeline-world.js';
import { proxiedTransport } from '../support/proxied-transport.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'sealed-events',
  clientId: 'producer-sealed-events',
  partitions: 3,
  pipelineTopics: false,
});
const { topic } = sc;

const order = (i: number) => ({ key: `k${i}`, value: { id: `o-${i}`, cents: i, note: 'n' } });

describe('sealed events', () => {
  it('are reported only for acknowledged records, once each', async () => {
    const e = getEndpoints();
    const [host, port] = e.kafkaBrokers[0]!.split(':') as [string, string];
    const proxy = new TcpProxy(host, Number(port));
    await proxy.start();
    const reported: PipelineEvent[] = [];
    const sink: MetadataSink = { emit: (ev) => void reported.push(ev) };
    const orders = await startProducer(
      sc.world,
      proxiedTransport(proxy, 'sealed-events'),
      'orders',
      {
        valueSchemas: { [topic]: ORDER_SCHEMA },
        maxSendAttempts: 2,
        retryDelayMs: 50,
        events: sink,
      },
    );
    const acked: string[] = [];
    try {
      acked.push(
        ...(await orders.producer.send({ topic, messages: [0, 1, 2, 3].map(order) })).map(
          (s) => s.messageId,
        ),
      );
      await proxy.stop();
      const failed = await orders.producer
        .send({ topic, messages: [4, 5, 6].map(order) })
        .catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(SendFailedError);
      const sealedWhileCut = reported.filter((r) => r.type === 'sealed').length;
      await proxy.start();
      const resent = await orders.producer.resend((failed as SendFailedError).pending);
      acked.push(...resent.map((s) => s.messageId));

      expect(sealedWhileCut).toBe(4);
    } finally {
      await orders.producer.close();
      await proxy.stop();
    }
    const sealedIds = reported.filter((r) => r.type === 'sealed').map((r) => r.messageId);
    expect([...sealedIds].sort()).toEqual([...acked].sort());
  });
});
