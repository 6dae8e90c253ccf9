/**
 * The dead-letter breaker under a junk-header flood (docs/SECURITY.md, "Flood a topic with junk":
 * junk headers carrying real recipient kids make no dead-letter writes beyond the breaker). Junk records
 * carry billing's real kid, so they cannot be skipped as not addressed, and fail as HEADER. Half carry a
 * fresh header each (admission tokens + a failed box open), half repeat one junk header (negative-cache
 * hits: no public-key work, so only the breaker limits their dead letters). The flood is interleaved
 * with genuine traffic on partition 0; partition 1 carries genuine traffic only.
 *
 * Checked: every genuine message delivered exactly once; the dead-letter writes (their signed `timeMs`)
 * never exceed burst + rate × t in any interval; every junk record eventually dead-lettered exactly once
 * (nothing lost); the breaker gauge, throttled counter and alert; partition 1 is not held behind the junk.
 */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../src/envelope/envelope-codec.js';
import { DEAD_LETTER_HEADER, decodeDeadLetterMetadata } from '../../src/events/dead-letter.js';
import type { OutgoingRecord } from '../../src/kafka/transport.js';
import { waitFor } from '../support/test-transport.js';
import { readRaw, type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-dlb', clientId: 'pipeline-dl-breaker', partitions: 2 });
const { topic, t, transport } = sc;

const JUNK_FRESH = 1000;
const JUNK_REPEAT = 1000;
const JUNK = JUNK_FRESH + JUNK_REPEAT;
const GOOD = 1600;
const ROUNDS = 20;
/** The breaker budget under test: per partition and global. */
const PARTITION_BUDGET = { perSecond: 150, burst: 40 };
const GLOBAL_BUDGET = { perSecond: 200, burst: 60 };

let consumer: TestConsumer | undefined;

describe('dead-letter breaker under a junk-header flood', () => {
  it('keeps dead-letter writes within the budget, loses nothing, delivers every genuine message', async () => {
    const orders = await sc.producer();
    const raw = transport.producer();
    await raw.connect();
    const junkOffsets = new Set<string>();
    let floodMs = 0;
    try {
      const msg = (i: number) => ({
        key: `k${i % 10}`,
        value: { id: `g-${i}`, cents: i, note: '' },
      });
      await orders.producer.send({ topic, messages: [msg(0)] });
      const [template] = await readRaw(transport, topic, 1);
      const limits = {
        envelopeSchemaId: orders.producer.envelopeSchemaId,
        namespace: orders.directory.namespace,
        maxCiphertextBytes: 1 << 20,
      };
      const junkWith = (sessionId: Uint8Array, box: Uint8Array): Buffer => {
        const junk = Buffer.from(template!.value!);
        const env = decodeEnvelope(junk, limits);
        env.header.sessionId.set(sessionId);
        env.header.boxes[0]!.set(box);
        return junk;
      };
      const repeated = junkWith(sc.world.crypto.randomBytes(16), sc.world.crypto.randomBytes(128));
      let good = 1;
      const started = Date.now();
      for (let round = 0; round < ROUNDS; round++) {
        const records: OutgoingRecord[] = [];
        for (let j = 0; j < JUNK_FRESH / ROUNDS; j++) {
          records.push({
            key: template!.key,
            value: junkWith(sc.world.crypto.randomBytes(16), sc.world.crypto.randomBytes(128)),
          });
          records.push({ key: template!.key, value: repeated });
        }
        const ack = await raw.send({ topic, partition: 0, records });
        for (let j = 0; j < records.length; j++)
          junkOffsets.add((BigInt(ack.baseOffset) + BigInt(j)).toString());
        const n = Math.min(Math.ceil((GOOD - 1) / ROUNDS), GOOD - good);
        if (n > 0)
          await orders.producer.send({
            topic,
            messages: Array.from({ length: n }, (_, i) => msg(good + i)),
          });
        good += Math.max(0, n);
      }
      floodMs = Date.now() - started;
      if (good < GOOD)
        await orders.producer.send({
          topic,
          messages: Array.from({ length: GOOD - good }, (_, i) => msg(good + i)),
        });
    } finally {
      await raw.disconnect();
      await orders.producer.close();
    }
    expect(junkOffsets.size).toBe(JUNK);

    const alerts: { topic: string; partition: number; code: string }[] = [];
    const deliveredAt: { partition: number; atMs: number }[] = [];
    consumer = await sc.consumer('billing', {
      // Admission is not the limit here: the breaker is.
      admission: {
        partition: { perSecond: 2000, burst: 200 },
        global: { perSecond: 4000, burst: 400 },
      },
      deadLetterBreaker: { partition: PARTITION_BUDGET, global: GLOBAL_BUDGET, closeAfterMs: 1000 },
      maxRetryDelayMs: 500,
      onAlert: (a) => alerts.push({ ...a }),
      onMessage: (d) => {
        deliveredAt.push({ partition: d.partition, atMs: Date.now() });
        return Promise.resolve();
      },
    });
    const started = Date.now();
    await waitFor(() => consumer!.total() >= GOOD, 'every genuine message', 60_000);
    const genuineMs = Date.now() - started;
    await waitFor(
      async () =>
        (await counterValue(consumer!.promRegistry, 'sealpost_dead_lettered_total')) >= JUNK,
      'every junk record dead-lettered',
      60_000,
    );
    const drainedMs = Date.now() - started;

    // Every genuine message exactly once.
    expect(consumer.total()).toBe(GOOD);
    expect([...consumer.delivered.values()].every((n) => n === 1)).toBe(true);
    expect(consumer.delivered.size).toBe(GOOD);

    // Every junk record dead-lettered exactly once, as HEADER, from its own source offset.
    const dead = await readRaw(transport, t.dlq, JUNK);
    expect(dead.length).toBe(JUNK);
    const metas = dead.map((r) =>
      decodeDeadLetterMetadata(
        r.headers.filter((h) => h.key === DEAD_LETTER_HEADER).at(-1)!.value!,
      )!,
    );
    expect(metas.every((m) => m.class === 'HEADER' && m.topic === topic && m.partition === 0)).toBe(
      true,
    );
    expect(new Set(metas.map((m) => m.offset))).toEqual(junkOffsets);
    expect(
      await counterValue(consumer.promRegistry, 'sealpost_rejected_total', {
        code: 'BOX_OPEN_FAILED',
      }),
    ).toBe(JUNK);

    // The budget held: in every interval [a, b] at most burst + rate × (b − a) writes (+1 for the
    // millisecond rounding of timeMs). All junk is on partition 0, so its budget is the tighter one.
    const times = metas.map((m) => m.timeMs).sort((a, b) => a - b);
    // max over i ≤ j of (j − i + 1) − rate × (t_j − t_i), in one pass with a running minimum.
    const rate = PARTITION_BUDGET.perSecond / 1000;
    let excess = -Infinity;
    let minStart = Infinity;
    for (let j = 0; j < times.length; j++) {
      minStart = Math.min(minStart, j - rate * times[j]!);
      excess = Math.max(excess, j + 1 - rate * times[j]! - minStart);
    }
    expect(excess).toBeLessThanOrEqual(PARTITION_BUDGET.burst + 1);
    let worstWindow = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[j]! - times[i]! < 1000 && j < times.length) j++;
      worstWindow = Math.max(worstWindow, j - i);
    }
    expect(worstWindow).toBeLessThanOrEqual(
      PARTITION_BUDGET.burst + PARTITION_BUDGET.perSecond + 1,
    );

    // The breaker opened (gauge, alert, throttled counter) and closed again once the flood was drained.
    expect(
      alerts.some(
        (a) => a.code === 'DEAD_LETTER_BREAKER_OPEN' && a.topic === topic && a.partition === 0,
      ),
    ).toBe(true);
    expect(
      await counterValue(consumer.promRegistry, 'sealpost_dead_letter_throttled_total'),
    ).toBeGreaterThan(0);
    await waitFor(
      async () =>
        (await counterValue(consumer!.promRegistry, 'sealpost_dead_letter_breaker_open', {
          topic,
          partition: '0',
        })) === 0,
      'the breaker to close',
      10_000,
    );

    // Partition 1 (genuine only) is not held behind partition 0's junk: it is done before the junk is
    // drained. (How much earlier depends on the machine's load — about 1.3 s of ~25 s when quiet, 16 s
    // of 21 s once under heavy load — so no margin is asserted: that would be a timing test.)
    const p1 = deliveredAt.filter((d) => d.partition === 1);
    expect(p1.length).toBeGreaterThan(0);
    const p1DoneMs = Math.max(...p1.map((d) => d.atMs)) - started;
    expect(p1DoneMs).toBeLessThan(drainedMs);

    console.log(
      `[dl-breaker] flood: ${JUNK} junk + ${GOOD} genuine produced in ${floodMs} ms (${Math.round((JUNK * 1000) / Math.max(1, floodMs))} junk/s); ` +
        `genuine all delivered after ${genuineMs} ms (partition 1 done after ${p1DoneMs} ms, ${p1.length} msgs); ` +
        `junk drained after ${drainedMs} ms (${Math.round((JUNK * 1000) / drainedMs)} dead letters/s, budget ${PARTITION_BUDGET.perSecond}/s burst ${PARTITION_BUDGET.burst}); ` +
        `max dead letters in any 1 s window: ${worstWindow}, largest burst beyond rate×t: ${excess.toFixed(1)} (bound ${PARTITION_BUDGET.burst}+1); deferred by breaker: ${await counterValue(consumer.promRegistry, 'sealpost_dead_letter_throttled_total')}`,
    );
  });
});
