/**
 * The KMS (the stack's real OpenBao Transit, reached through a TCP proxy the test cuts) is down when
 * a consumer starts and must unwrap its replay-state key: the partitions stay paused and the load is
 * retried — nothing is delivered on unverified state, nothing dead-lettered — and once the KMS is back
 * the consumer resumes exactly where the group committed, with no alert.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import { systemClock } from '../../src/runtime/clock.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/test-transport.js';
import { type TestConsumer } from '../support/pipeline-parties.js';
import { counterValue } from '../support/pipeline-world.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({ purpose: 'pipe-kms', clientId: 'pipeline-kms-outage' });
const { topic, t } = sc;

const group = `billing-${topic}`;
const e = getEndpoints();
const vault = new URL(e.vaultAddr);
const proxy = new TcpProxy(vault.hostname, Number(vault.port));
const keyName = `sealpost-test-state-${randomBytes(4).toString('hex')}`;
const open: TestConsumer[] = [];
const kmsList: OpenBaoTransitKms[] = [];

async function transitKms(): Promise<OpenBaoTransitKms> {
  const kms = await OpenBaoTransitKms.create({
    endpoint: `http://127.0.0.1:${proxy.port}`,
    keyName,
    auth: { method: 'token', token: e.vaultToken },
    clock: systemClock,
    requestTimeoutMs: 1000,
  });
  kmsList.push(kms);
  return kms;
}

beforeAll(async () => {
  await new BaoAdmin(e.vaultAddr, e.vaultToken).createTransitKey(keyName);
  await proxy.start();
});

afterAll(async () => {
  for (const c of open) await c.consumer.close();
  for (const k of kmsList) await k.close();
  await proxy.stop();
});

describe('KMS outage while loading the replay-state key', () => {
  it('pauses, retries, and resumes with the committed state once the KMS is back', async () => {
    const orders = await sc.producer();
    const send = (from: number, n: number) =>
      orders.producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          key: 'k',
          value: { id: `v-${from + i}`, cents: i, note: '' },
        })),
      });
    try {
      await send(0, 200);
      const options = {
        groupId: group,
        topics: [topic],
        stateTopic: t.state,
        deadLetterTopic: t.dlq,
        maxRetryDelayMs: 1000,
      };
      const first = await sc.consumer('billing', {
        ...options,
        kms: await transitKms(),
      });
      await waitFor(() => first.total() >= 200, 'first run');
      await first.consumer.close();

      await proxy.stop();
      await send(200, 100);
      const alerts: string[] = [];
      const second = await sc.consumer('billing', {
        ...options,
        kms: await transitKms(),
        onAlert: (a) => alerts.push(a.code),
      });
      open.push(second);
      await waitFor(
        async () =>
          (await counterValue(second.promRegistry, 'sealpost_transient_retries_total', {
            reason: 'replay-state-load',
          })) >= 2,
        'replay-state load retries while the KMS is down',
        60_000,
      );
      expect(second.total()).toBe(0);

      await proxy.start();
      await waitFor(
        () => second.total() >= 100,
        'the 100 new messages after the KMS came back',
        60_000,
      );
      expect(second.total()).toBe(100);
      expect(alerts).toEqual([]);
      expect(await counterValue(second.promRegistry, 'sealpost_dead_lettered_total')).toBe(0);
      expect(await counterValue(second.promRegistry, 'sealpost_duplicates_total')).toBe(0);
    } finally {
      await orders.producer.close();
    }
  });
});
