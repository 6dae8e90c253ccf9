/**
 * Producing sealed records over the broker's mTLS listener (client certificate signed by the stack
 * CA) with per-message signatures and block padding, consuming them over PLAINTEXT: every message
 * arrives once, opened and verified.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { testTransportOn, waitFor } from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-mtls', clientId: 'pipeline-mtls-plain', partitions: 2 });
const { topic } = sc;

const N = 500;
const e = getEndpoints();
// On the adapter SEALPOST_TEST_TRANSPORT names (kafkajs by default).
const tls = testTransportOn({
  brokers: e.kafkaSslBrokers,
  clientId: 'pipeline-mtls',
  ssl: {
    ca: [readFileSync(e.kafkaSsl.caFile, 'utf8')],
    cert: readFileSync(e.kafkaSsl.certFile, 'utf8'),
    key: readFileSync(e.kafkaSsl.keyFile, 'utf8'),
  },
});

describe('sealed producer over mTLS', () => {
  it('produces over the mTLS listener; the consumer opens every message once', async () => {
    // With a signature inside every message and fixed-block padding, to cover those options end to end.
    const orders = await sc.producer('orders', {
      transport: tls,
      signEveryMessage: true,
      padding: { kind: 'block', blockBytes: 256 },
    });
    const sent = await orders.producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({
        key: `k${i % 5}`,
        value: { id: `m-${i}`, cents: i, note: 'tls' },
      })),
    });
    expect(sent).toHaveLength(N);
    const billing = await sc.consumer('billing', {
      keepDeliveries: true,
    });
    await waitFor(() => billing.total() >= N, 'deliveries', 60_000);
    expect(billing.total()).toBe(N);
    for (const s of sent) expect(billing.delivered.get(s.messageId)).toBe(1);
    expect(billing.deliveries.every((d) => d.sender === 'orders')).toBe(true);
  });
});
