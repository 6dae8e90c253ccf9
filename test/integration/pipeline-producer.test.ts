/**
 * SealedProducer behaviours on the real stack that the other pipeline tests do not reach:
 * - session rotation by age (`maxSessionAgeMs`) on an injected ManualClock — no real waiting;
 * - a broker outage while sending: SEND_FAILED (retriable) carrying `.pending`, and `resend` delivering
 *   exactly those sealed bytes, once, after the broker is back (outage = a fault proxy on the broker's
 *   FAULT listener, which advertises the proxy's address, so every connection of the client goes
 *   through it on either adapter; the test cuts it).
 */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/envelope/envelope-codec.js';
import type { ConsumedRecord } from '../../src/kafka/transport.js';
import { SendFailedError } from '../../src/pipeline/sealed-producer.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { readRaw, startProducer, type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue, ORDER_SCHEMA } from '../support/pipeline-world.js';
import { kafkaNodes } from '../../stack/stack.js';
import { FaultProxy } from '../support/fault-proxy.js';
import {
  testTransportKind,
  testTransportOn,
  waitFor,
  waitForCommitted,
} from '../support/test-transport.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-prod',
  clientId: 'pipeline-producer',
  topics: ['pipe-age', 'pipe-outage'],
});
const [ageTopic, outageTopic] = sc.topics as [string, string];
const { transport } = sc;

const order = (i: number) => ({ key: `k${i}`, value: { id: `o-${i}`, cents: i, note: 'n' } });

async function consume(topic: string): Promise<TestConsumer> {
  return sc.consumer('billing', {
    groupId: `billing-${topic}`,
    topics: [topic],
    keepDeliveries: true,
  });
}

describe('SealedProducer on the real stack', () => {
  it('rotates the session by age (injected clock): a new header after maxSessionAgeMs, seqs continue', async () => {
    // Starts at the real time and moves 28 s ahead in all: within the consumer's skew (60 s), so the
    // consumer on the real clock accepts every session's times. The directory keys are valid from
    // 60 s before the world was built, so the clock cannot start in the past.
    const clock = new ManualClock(Date.now());
    const { registry: promRegistry, metrics } = sc.world.metrics();
    const orders = await sc.producer('orders', {
      clock,
      metrics,
      maxSessionAgeMs: 10_000,
      valueSchemas: { [ageTopic]: ORDER_SCHEMA },
    });
    const sendTimes: number[] = [];
    const batch = async (from: number) => {
      sendTimes.push(clock.nowMs());
      const sent = await orders.producer.send({
        topic: ageTopic,
        messages: [order(from), order(from + 1)],
      });
      expect(sent.map((s) => s.createdAtMs)).toEqual([clock.nowMs(), clock.nowMs()]);
    };
    try {
      await batch(0); // session A opened at t0
      clock.advance(9_000);
      await batch(2); // t0 + 9 s: still A
      clock.advance(2_000);
      await batch(4); // t0 + 11 s: A expired → B
      clock.advance(5_000);
      await batch(6); // t0 + 16 s: still B
      clock.advance(12_000);
      await batch(8); // t0 + 28 s: B expired → C
    } finally {
      await orders.producer.close();
    }
    expect(
      await counterValue(promRegistry, 'sealpost_sessions_opened_total', { side: 'producer' }),
    ).toBe(3);

    const raw = await readRaw(transport, ageTopic, 10);
    const limits = {
      envelopeSchemaId: orders.producer.envelopeSchemaId,
      namespace: orders.directory.namespace,
      maxCiphertextBytes: 1 << 20,
    };
    const envs = raw.map((r) => decodeEnvelope(r.value!, limits));
    const sid = envs.map((e) => Buffer.from(e.header.sessionId).toString('hex'));
    const [a, b, c] = [sid[0]!, sid[4]!, sid[8]!];
    expect(new Set([a, b, c]).size).toBe(3);
    expect(sid).toEqual([a, a, a, a, b, b, b, b, c, c]);
    // One stream per (producer, topic): the seq counter runs on across sessions.
    expect(envs.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    // The consumer (real clock) opens all three sessions and sees the producer's clock as createdAt.
    const billing = await consume(ageTopic);
    await waitFor(() => billing.total() >= 10, 'ten deliveries', 60_000);
    const byId = new Map(billing.deliveries.map((d) => [(d.value as { id: string }).id, d]));
    for (let i = 0; i < 10; i++) {
      const d = byId.get(`o-${i}`);
      expect(d?.sender).toBe('orders');
      expect(d?.createdAtMs).toBe(sendTimes[Math.floor(i / 2)]);
    }
    expect(
      await counterValue(billing.promRegistry, 'sealpost_sessions_opened_total', {
        side: 'consumer',
      }),
    ).toBe(3);
    expect(await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
  });

  it('a broker outage gives SEND_FAILED with .pending; resend delivers exactly those bytes, once', async () => {
    // The broker's FAULT listener binds `internal` and advertises `advertised`, where the proxy
    // listens: bootstrap and every later connection of this client go through the proxy.
    const fault = kafkaNodes()[0]!.layout.faultListener!;
    const proxy = new FaultProxy('127.0.0.1', fault.internal, fault.advertised);
    await proxy.start();
    const proxied = testTransportOn({
      brokers: [`127.0.0.1:${proxy.port}`],
      clientId: 'pipeline-producer-outage',
      quickFailure: true,
    });
    const orders = await startProducer(sc.world, proxied, 'orders', {
      valueSchemas: { [outageTopic]: ORDER_SCHEMA },
      maxSendAttempts: 2,
      retryDelayMs: 50,
    });
    let failure: unknown;
    let failedAfterMs = 0;
    try {
      const first = await orders.producer.send({ topic: outageTopic, messages: [order(0)] });
      expect(first.map((s) => s.offset)).toEqual(['0']);

      await proxy.stop();
      const started = Date.now();
      try {
        await orders.producer.send({
          topic: outageTopic,
          messages: [order(1), order(2), order(3)],
        });
      } catch (err) {
        failure = err;
      }
      failedAfterMs = Date.now() - started;
      expect(failure).toBeInstanceOf(SendFailedError);
      const sendFailed = failure as SendFailedError;
      expect(sendFailed.code).toBe('SEND_FAILED');
      expect(sendFailed.retriable).toBe(true);
      const pendingValues = sendFailed.pending.requests.flatMap((r) =>
        r.records.map((x) => Buffer.from(x.value!)),
      );
      expect(pendingValues.length).toBe(3);
      const pendingIds = sendFailed.pending.messages.flat().map((m) => m.messageId);

      // While the broker is still unreachable a resend fails the same way, with the same bytes.
      const again = await orders.producer.resend(sendFailed.pending).catch((err: unknown) => err);
      expect(again).toBeInstanceOf(SendFailedError);
      expect(
        (again as SendFailedError).pending.requests.flatMap((r) =>
          r.records.map((x) => Buffer.from(x.value!)),
        ),
      ).toEqual(pendingValues);

      await proxy.start();
      const resent = await orders.producer.resend(sendFailed.pending);
      expect(resent.map((s) => s.messageId)).toEqual(pendingIds);
      expect(resent.map((s) => s.offset)).toEqual(['1', '2', '3']);

      // On the topic: the first record, then exactly the pending bytes, each once.
      const raw: ConsumedRecord[] = await readRaw(transport, outageTopic, 4);
      expect(raw.length).toBe(4);
      expect(raw.slice(1).map((r) => Buffer.from(r.value!))).toEqual(pendingValues);

      // And the application receives each message once.
      const billing = await consume(outageTopic);
      await waitFor(() => billing.total() >= 4, 'four deliveries', 60_000);
      // Committed past all four: each was handed out (or dead-lettered); the count below is final.
      await waitForCommitted(transport, `billing-${outageTopic}`, outageTopic, { 0: 4n });
      expect(billing.total()).toBe(4);
      expect(billing.deliveries.map((d) => (d.value as { id: string }).id).sort()).toEqual([
        'o-0',
        'o-1',
        'o-2',
        'o-3',
      ]);
      expect(billing.deliveries.filter((d) => pendingIds.includes(d.messageId)).length).toBe(3);
    } finally {
      await orders.producer.close();
      await proxy.stop();
    }
    console.log(
      `[producer-outage] SEND_FAILED after ${failedAfterMs} ms (maxSendAttempts 2, retryDelayMs 50, ${testTransportKind()} retries 1)`,
    );
  });
});
