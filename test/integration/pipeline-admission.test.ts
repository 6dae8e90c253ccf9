/**
 * A flood of junk session headers that carry the consumer's real kid (so they cannot be skipped as
 * not addressed): each costs public-key work, so each needs an admission token. With a small budget
 * the partition pauses instead of burning CPU — no junk record is dropped (each is dead-lettered as
 * HEADER once opened), and every genuine message interleaved with the flood is delivered.
 */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/envelope/envelope-codec.js';
import { waitFor } from '../support/test-transport.js';
import { readRaw, type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-adm', clientId: 'pipeline-admission' });
const { topic, transport } = sc;

const JUNK = 300;
const GOOD = 1500;
let consumer: TestConsumer | undefined;

describe('admission control under a junk-header flood', () => {
  it('pauses instead of dropping, dead-letters the junk, delivers every genuine message', async () => {
    const orders = await sc.producer();
    const raw = transport.producer();
    await raw.connect();
    try {
      const msg = (i: number) => ({
        key: `k${i % 5}`,
        value: { id: `g-${i}`, cents: i, note: '' },
      });
      await orders.producer.send({ topic, messages: [msg(0)] });
      const [template] = await readRaw(transport, topic, 1);
      const limits = {
        envelopeSchemaId: orders.producer.envelopeSchemaId,
        namespace: orders.directory.namespace,
        maxCiphertextBytes: 1 << 20,
      };
      let good = 1;
      for (let j = 0; j < JUNK; j++) {
        // A fresh session id and a random sealed box: a new header (cache miss) addressed to billing.
        const junk = Buffer.from(template!.value!);
        const env = decodeEnvelope(junk, limits);
        env.header.sessionId.set(sc.world.crypto.randomBytes(16));
        env.header.boxes[0]!.set(sc.world.crypto.randomBytes(128));
        await raw.send({ topic, partition: 0, records: [{ key: template!.key, value: junk }] });
        if (j % 3 === 0) {
          const n = Math.min(15, GOOD - good);
          if (n > 0)
            await orders.producer.send({
              topic,
              messages: Array.from({ length: n }, (_, i) => msg(good + i)),
            });
          good += Math.max(0, n);
        }
      }
      if (good < GOOD)
        await orders.producer.send({
          topic,
          messages: Array.from({ length: GOOD - good }, (_, i) => msg(good + i)),
        });
    } finally {
      await raw.disconnect();
      await orders.producer.close();
    }

    consumer = await sc.consumer('billing', {
      admission: {
        partition: { perSecond: 100, burst: 10 },
        global: { perSecond: 150, burst: 10 },
      },
      // This test is about admission; the dead-letter budget is pipeline-dead-letter-breaker.test.ts's.
      deadLetterBreaker: {
        partition: { perSecond: 10_000, burst: 1000 },
        global: { perSecond: 10_000, burst: 1000 },
      },
      maxRetryDelayMs: 200,
    });
    const started = Date.now();
    await waitFor(() => consumer!.total() >= GOOD, 'every genuine message', 120_000);
    await waitFor(
      async () =>
        (await counterValue(consumer!.promRegistry, 'sealpost_dead_lettered_total', {
          class: 'HEADER',
        })) >= JUNK,
      'every junk record dead-lettered',
      60_000,
    );
    const elapsedMs = Date.now() - started;
    expect(consumer.total()).toBe(GOOD);
    expect(await counterValue(consumer.promRegistry, 'sealpost_dead_lettered_total')).toBe(JUNK);
    expect(
      await counterValue(consumer.promRegistry, 'sealpost_rejected_total', {
        code: 'BOX_OPEN_FAILED',
      }),
    ).toBe(JUNK);
    // The budget was enforced: the junk could not be opened faster than the token rate allows.
    expect(
      await counterValue(consumer.promRegistry, 'sealpost_admission_throttled_total'),
    ).toBeGreaterThan(0);
    expect(elapsedMs).toBeGreaterThanOrEqual(((JUNK - 10) / 100) * 1000 * 0.9);
  });
});
