/**
 * A late `resend()` (issue #14 item 8): records that failed while the broker path was cut, resent after
 * more than a replay window (1,024) of newer records of the same stream went to the partition, must
 * still reach the handler — before the fix their seqs were behind the consumer's window and every one
 * was dead-lettered as STALE (SEQ_TOO_OLD). Invariant, from the ledger: every message whose send or
 * resend was acknowledged is handed to the consumer, and nothing is dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { SendFailedError, type SentMessage } from '../../src/pipeline/sealed-producer.js';
import { getEndpoints } from '../support/endpoints.js';
import { startProducer, type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue, ORDER_SCHEMA } from '../support/pipeline-world.js';
import { proxiedTransport } from '../support/proxied-transport.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'late-resend', clientId: 'producer-late-resend', partitions: 2 });
const { topic } = sc;

let billing: TestConsumer | undefined;

const order = (i: number) => ({ key: `k${i % 7}`, value: { id: `o-${i}`, cents: i, note: 'n' } });

describe('a late resend', () => {
  it('is handed to the consumer after more than a replay window of newer sends', async () => {
    const e = getEndpoints();
    const [host, port] = e.kafkaBrokers[0]!.split(':') as [string, string];
    const proxy = new TcpProxy(host, Number(port));
    await proxy.start();
    const proxied = proxiedTransport(proxy, 'producer-late-resend');
    const orders = await startProducer(sc.world, proxied, 'orders', {
      valueSchemas: { [topic]: ORDER_SCHEMA },
      maxSendAttempts: 2,
      retryDelayMs: 50,
    });
    const acked = new Map<string, SentMessage>();
    const ack = (sent: readonly SentMessage[]) => sent.forEach((s) => acked.set(s.messageId, s));
    let n = 0;
    const batch = (size: number) => Array.from({ length: size }, () => order(n++));
    try {
      ack(await orders.producer.send({ topic, messages: batch(20) }));

      // The broker path is cut: these 30 fail with SEND_FAILED.
      await proxy.stop();
      const failed = await orders.producer
        .send({ topic, messages: batch(30) })
        .catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(SendFailedError);
      const pending = (failed as SendFailedError).pending;
      const pendingIds = pending.messages.flat().map((m) => m.messageId);
      await proxy.start();

      // More than a replay window of newer records to both partitions.
      for (let i = 0; i < 6; i++) ack(await orders.producer.send({ topic, messages: batch(500) }));
      const perPartition = new Map<number, number>();
      for (const s of acked.values())
        perPartition.set(s.partition, (perPartition.get(s.partition) ?? 0) + 1);
      expect([...perPartition.values()].every((c) => c > 1100)).toBe(true);

      const resent = await orders.producer.resend(pending);
      ack(resent);
      // The same messages (ids), in the original order.
      expect(resent.map((s) => s.messageId)).toEqual(
        [...pending.messages.flat()].sort((a, b) => a.index - b.index).map((m) => m.messageId),
      );
      expect(new Set(pendingIds).size).toBe(30);
    } finally {
      await orders.producer.close();
      await proxy.stop();
    }

    billing = await sc.consumer('billing');
    const consumer = billing;
    const deadLettered = () => counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total');
    await waitFor(
      async () => consumer.delivered.size + (await deadLettered()) >= acked.size,
      'every acknowledged message handed out or dead-lettered',
      120_000,
    );
    expect(await deadLettered()).toBe(0);
    expect([...acked.keys()].filter((id) => !consumer.delivered.has(id))).toEqual([]);
  });
});
