/**
 * The chaos scenarios (issue #15): each injects its faults while the producer and both recipient
 * groups run, and reports the recovery it measured. The harness then drains and checks the ledger.
 */
import {
  killBroker,
  partitionLeader,
  pauseBroker,
  restartBroker,
  resumeBroker,
  waitSettled,
} from '../../stack/faults.js';
import { kafkaNodes } from '../../stack/stack.js';
import { GROUPS, stopChild, type Harness } from './harness.js';

/** Recovery measured after one fault: ms from the fault to the first ack and first hand-outs. */
export interface Recovery {
  readonly fault: string;
  readonly toFirstAckMs: number | undefined;
  readonly toFirstHandoutMs: Readonly<Record<string, number | undefined>>;
  readonly settleMs?: number;
}

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  /** The consumers reach the brokers only through one fault proxy per broker (`h.proxies`). */
  readonly proxiedConsumers?: boolean;
  /** Partitions of the scenario's topic (default 3). */
  readonly partitions?: number;
  /** Needs OpenBao in persistent mode (the runner starts it so: `up --openbao persistent`). */
  readonly persistentOpenbao?: boolean;
  /** Runs before the consumers start (e.g. sets `h.consumerConfig`, starts a proxy). */
  prepare?(h: Harness): Promise<void>;
  /** `rounds` overrides the scenario's repetitions (a short run inside `npm test`). */
  run(h: Harness, options?: { rounds?: number }): Promise<Recovery[]>;
}

export async function measure(h: Harness, fault: string, t: number): Promise<Recovery> {
  const ack = await h.firstAckAfter(t);
  const outs = await h.firstHandoutsAfter(t);
  const r: Recovery = {
    fault,
    toFirstAckMs: ack === undefined ? undefined : ack - t,
    toFirstHandoutMs: Object.fromEntries(
      Object.entries(outs).map(([g, x]) => [g, x === undefined ? undefined : x - t]),
    ),
  };
  h.log(
    `${fault}: first ack after ${fmt(r.toFirstAckMs)}, first hand-out ${GROUPS.map((g) => `${g} ${fmt(r.toFirstHandoutMs[g])}`).join(', ')}`,
  );
  return r;
}

export const fmt = (ms: number | undefined): string =>
  ms === undefined ? 'none (bounded wait ran out)' : `${(ms / 1000).toFixed(1)} s`;

export async function settle(h: Harness): Promise<number> {
  const ms = await waitSettled({ topics: [h.topic], timeoutMs: 180_000 });
  h.log(`cluster settled in ${(ms / 1000).toFixed(1)} s`);
  return ms;
}

const leaderKill: Scenario = {
  name: 'leader-kill',
  summary: 'the leader of partition 0 killed (-9) during produce and consume, five times',
  async run(h) {
    const out: Recovery[] = [];
    for (let round = 1; round <= 5; round++) {
      await h.waitMoreAcks(100);
      const leader = await partitionLeader(h.topic, 0);
      const t = Date.now();
      await killBroker(leader);
      h.log(`round ${round}: killed broker ${leader} (leader of ${h.topic}/0)`);
      const r = await measure(h, `kill -9 broker ${leader} (round ${round})`, t);
      await restartBroker(leader);
      out.push({ ...r, settleMs: await settle(h) });
    }
    return out;
  },
};

const rollingRestart: Scenario = {
  name: 'rolling-restart',
  summary:
    'every broker restarted in turn (SIGTERM, controlled shutdown), waiting for the cluster to settle between',
  async run(h) {
    const out: Recovery[] = [];
    for (const node of kafkaNodes()) {
      await h.waitMoreAcks(100);
      const t = Date.now();
      await restartBroker(node.id);
      h.log(`restarted broker ${node.id}`);
      const r = await measure(h, `restart broker ${node.id}`, t);
      out.push({ ...r, settleMs: await settle(h) });
    }
    return out;
  },
};

const leaderPause: Scenario = {
  name: 'leader-pause',
  summary: 'the leader of partition 0 paused (SIGSTOP) for 20 s, then resumed (a zombie leader)',
  async run(h) {
    await h.waitMoreAcks(100);
    const leader = await partitionLeader(h.topic, 0);
    const t = Date.now();
    pauseBroker(leader);
    h.log(`paused broker ${leader} (leader of ${h.topic}/0) for 20 s`);
    // The fault's duration (the scenario's definition), not a wait for an outcome.
    await new Promise((r) => setTimeout(r, 20_000));
    const during = await h.firstAckAfter(t, 1);
    resumeBroker(leader);
    h.log(
      `resumed broker ${leader}; acks while paused: ${during === undefined ? 'none' : `first after ${fmt(during - t)}`}`,
    );
    const r = await measure(h, `pause broker ${leader} 20 s`, t);
    return [{ ...r, settleMs: await settle(h) }];
  },
};

export const producerKill: Scenario = {
  name: 'producer-kill',
  summary:
    'the producer process killed (-9) mid-batch, then a new producer started: acknowledged ⊆ handed out',
  async run(h, options) {
    const out: Recovery[] = [];
    for (let round = 1; round <= (options?.rounds ?? 3); round++) {
      await h.waitMoreAcks(100);
      const p = h.producer!;
      p.kill('SIGKILL');
      await stopChild(p);
      const t = Date.now();
      h.log(`round ${round}: killed the producer (pid ${p.pid})`);
      await h.startProducer();
      out.push(await measure(h, `kill -9 producer (round ${round}), new producer`, t));
    }
    return out;
  },
};

const consumerKill: Scenario = {
  name: 'consumer-kill',
  summary: 'a consumer (billing) killed (-9) five times under live production, restarted each time',
  async run(h) {
    const out: Recovery[] = [];
    for (let round = 1; round <= 5; round++) {
      await h.waitMoreAcks(100);
      const c = h.consumers.get('billing')!;
      c.kill('SIGKILL');
      await stopChild(c);
      const t = Date.now();
      h.log(`round ${round}: killed consumer billing (pid ${c.pid})`);
      await h.startConsumer('billing');
      out.push(await measure(h, `kill -9 consumer billing (round ${round})`, t));
    }
    return out;
  },
};

const consumerPathFaults: Scenario = {
  name: 'consumer-path',
  summary:
    'the consumers reach every broker through fault proxies: 200 ms latency for 20 s, then every connection reset three times, then 10 s of blackhole',
  proxiedConsumers: true,
  async run(h) {
    const proxies = h.proxies!;
    const out: Recovery[] = [];
    await h.waitMoreAcks(100);
    let t = Date.now();
    proxies.set({ latencyMs: 200 });
    h.log('consumer path: 200 ms latency each way');
    out.push(await measure(h, '200 ms latency on the consumer path', t));
    // The fault's duration (the scenario's definition), not a wait for an outcome.
    await new Promise((r) => setTimeout(r, 20_000));
    proxies.heal();
    for (let round = 1; round <= 3; round++) {
      await h.waitMoreAcks(100);
      t = Date.now();
      const n = proxies.reset();
      h.log(`consumer path: reset ${n} sockets (round ${round})`);
      out.push(await measure(h, `connection reset on the consumer path (round ${round})`, t));
    }
    await h.waitMoreAcks(100);
    t = Date.now();
    proxies.set({ blackhole: true });
    h.log('consumer path: blackhole for 10 s');
    await new Promise((r) => setTimeout(r, 10_000));
    proxies.heal();
    out.push(await measure(h, 'blackhole 10 s on the consumer path (from its start)', t));
    return out;
  },
};

export const scenarios: readonly Scenario[] = [
  leaderKill,
  rollingRestart,
  leaderPause,
  producerKill,
  consumerKill,
  consumerPathFaults,
];
