/**
 * The pipeline and the directory: sessions rotate by count; explicit recipients outside the directory's
 * permission are refused; a revoked recipient drops out of the next session (directory epoch change
 * touching a recipient); a sender revoked mid-session has its next records refused (HEADER); an
 * unknown sender waits for a directory refresh and is then delivered, not dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADER, decodeDeadLetterMetadata } from '../../src/events/dead-letter.js';
import { PolicyError } from '../../src/keys/policy.js';
import { waitFor } from '../support/test-transport.js';
import { readRaw, type TestConsumer, type TestProducer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'pipe-dir',
  clientId: 'pipeline-directory',
  services: ({ topics }) => [
    { name: 'orders', send: [...topics], receive: [] },
    { name: 'refunds', send: [...topics], receive: [] },
    { name: 'newcomer', send: [...topics], receive: [], unlisted: true },
    { name: 'billing', send: [], receive: [...topics] },
    { name: 'shipping', send: [], receive: [...topics] },
    { name: 'outsider', send: [], receive: ['elsewhere'] },
    { name: 'audit', send: [], receive: ['audit-topic'] },
  ],
});
const { topic, t, transport } = sc;

const msgs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    key: `${tag}-${i % 3}`,
    value: { id: `${tag}-${i}`, cents: i, note: tag },
  }));

async function producer(name: string, extra = {}): Promise<TestProducer> {
  return sc.producer(name, {
    metrics: sc.world.metrics().metrics,
    ...extra,
  });
}

async function consumer(name: string): Promise<TestConsumer> {
  return sc.consumer(name, {
    groupId: `${name}-${topic}`,
    unknownSenderWaitMs: 60_000,
    maxRetryDelayMs: 1000,
  });
}

describe('pipeline and directory', () => {
  it('rotates sessions, refuses disallowed recipients, follows revocations and late-listed senders', async () => {
    const billing = await consumer('billing');
    const shipping = await consumer('shipping');

    // Rotation by count: 1,000 messages at 100 per session = 10 sessions.
    const { registry: promOrders, metrics } = sc.world.metrics();
    const orders = await producer('orders', { maxMessagesPerSession: 100, metrics });
    await orders.producer.send({ topic, messages: msgs(1000, 'rot') });
    expect(
      await counterValue(promOrders, 'sealpost_sessions_opened_total', { side: 'producer' }),
    ).toBe(10);
    await waitFor(() => billing.total() >= 1000 && shipping.total() >= 1000, 'rotation deliveries');

    // Explicit recipients must be allowed by the directory.
    await expect(
      orders.producer.send({ topic, recipients: ['outsider'], messages: msgs(1, 'x') }),
    ).rejects.toSatisfy(
      (e: unknown) => e instanceof PolicyError && e.code === 'POLICY_RECIPIENT_NOT_ALLOWED',
    );
    await expect(
      orders.producer.send({ topic, recipients: ['nobody'], messages: msgs(1, 'x') }),
    ).rejects.toBeInstanceOf(PolicyError);

    // Revoking a recipient: the producer's next session leaves it out.
    await sc.world.change([
      { ...sc.world.draft('shipping'), status: 'revoked', retiredAtMs: Date.now() },
    ]);
    await orders.directory.refresh();
    await orders.producer.send({ topic, messages: msgs(50, 'after-revoke') });
    expect(
      await counterValue(promOrders, 'sealpost_sessions_opened_total', { side: 'producer' }),
    ).toBe(11);
    await waitFor(() => billing.total() >= 1050, 'billing gets the post-revocation messages');
    await waitFor(
      async () =>
        (await counterValue(shipping.promRegistry, 'sealpost_skipped_not_addressed_total')) >= 50,
      'shipping skips them',
    );
    expect(shipping.total()).toBe(1000);

    // A sender revoked mid-session: its open session keeps sealing (stale producer directory), but the
    // consumer, once its directory has the revocation, refuses the next records (HEADER).
    const refunds = await producer('refunds');
    await refunds.producer.send({ topic, recipients: ['billing'], messages: msgs(5, 'refund-a') });
    await waitFor(() => billing.total() >= 1055, 'refunds before revocation');
    await sc.world.change([
      { ...sc.world.draft('refunds'), status: 'revoked', retiredAtMs: Date.now() },
    ]);
    await billing.directory.refresh();
    await refunds.producer.send({ topic, recipients: ['billing'], messages: msgs(5, 'refund-b') });
    await waitFor(
      async () =>
        (await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total', {
          class: 'HEADER',
        })) >= 5,
      'revoked sender refused',
    );
    expect(billing.total()).toBe(1055);
    const dl = await readRaw(transport, t.dlq, 5);
    expect(
      dl.map(
        (r) =>
          decodeDeadLetterMetadata(
            r.headers.filter((h) => h.key === DEAD_LETTER_HEADER).at(-1)!.value!,
          )!.class,
      ),
    ).toEqual(Array(5).fill('HEADER'));

    // A sender the consumer's directory does not know yet: paused until a refresh lists it, then delivered.
    await sc.world.change([sc.world.draft('newcomer')]);
    const newcomer = await producer('newcomer');
    await newcomer.producer.send({ topic, recipients: ['billing'], messages: msgs(3, 'new') });
    await waitFor(
      () => billing.total() >= 1058,
      'newcomer delivered after a directory refresh',
      60_000,
    );
    expect(
      await counterValue(billing.promRegistry, 'sealpost_transient_retries_total', {
        reason: 'unknown-sender',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(await counterValue(billing.promRegistry, 'sealpost_dead_lettered_total')).toBe(5);
  });
});
