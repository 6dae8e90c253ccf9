/**
 * The remaining chaos scenarios of issue #15: the controller quorum's leader killed, the dead-letter
 * topic unwritable while records fail verification, a handler that throws (transiently, then
 * permanently), OpenBao restarted and down during a consumer's start, the registry answering 503, and
 * two of three brokers down. Each injects its faults while the producer and both recipient groups
 * run, records its own checks (`h.check`) beside the ledger's, and is bounded.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { decodeDeadLetterMetadata, DEAD_LETTER_HEADER } from '../../src/events/dead-letter.js';
import { clusterAdmin, killBroker, liveBrokers, restartBroker } from '../../stack/faults.js';
import { kafkaNodes, stackKill, stackRestart } from '../../stack/stack.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { readRaw } from '../support/pipeline-parties.js';
import { stopChild, type Harness } from './harness.js';
import { readLedgers, type HandoutEntry } from './ledger.js';
import { quorumLeader } from './quorum.js';
import { RegistryProxy } from './registry-proxy.js';
import { fmt, measure, settle, type Recovery, type Scenario } from './scenarios.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every 500 ms until it holds (true) or `timeoutMs` passed (false). */
async function waitUntil(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > deadline) return false;
    await sleep(500);
  }
}

const ledger = (h: Harness) => readLedgers(join(h.runDir, 'ledgers'));
const outsOf = (h: Harness, group: string): HandoutEntry[] =>
  ledger(h).handouts.filter((x) => x.g === h.groupId(group));

interface Throw {
  readonly n: string;
  readonly id: string;
  readonly p: number;
  readonly o: string;
  readonly t: number;
}

/** Every throw the consumers' handlers recorded (`<member>.ledger.throws`). */
function throwsOf(h: Harness): Throw[] {
  const dir = join(h.runDir, 'ledgers');
  const out: Throw[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.throws'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as Throw);
      } catch {
        // a line cut by a kill
      }
    }
  }
  return out;
}

/** The group's committed offset of each partition of the scenario's topic (-1: none). */
async function committed(h: Harness, group: string): Promise<Map<number, bigint>> {
  const a = h.transport.admin();
  await a.connect();
  try {
    const out = new Map<number, bigint>();
    for (const c of await a.fetchCommittedOffsets(h.groupId(group), [h.topic]))
      out.set(c.partition, BigInt(c.offset));
    return out;
  } finally {
    await a.disconnect().catch(() => undefined);
  }
}

interface DeadLetter {
  readonly group: string;
  readonly partition: number;
  readonly offset: string;
  readonly cls: string;
}

/** The dead letters of the scenario's topic now (an absent dead-letter topic: none). */
async function deadLetters(h: Harness): Promise<DeadLetter[]> {
  const a = h.transport.admin();
  await a.connect();
  let count = 0;
  try {
    if (!(await a.listTopics()).includes(h.deadLetterTopic)) return [];
    count = (await a.fetchTopicOffsets(h.deadLetterTopic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await a.disconnect().catch(() => undefined);
  }
  if (count === 0) return [];
  const out: DeadLetter[] = [];
  for (const r of await readRaw(h.transport, h.deadLetterTopic, count)) {
    const header = r.headers.filter((x) => x.key === DEAD_LETTER_HEADER).pop();
    const meta = header?.value ? decodeDeadLetterMetadata(header.value) : null;
    if (meta !== null && meta.topic === h.topic)
      out.push({
        group: meta.group,
        partition: meta.partition,
        offset: meta.offset,
        cls: meta.class,
      });
  }
  return out;
}

const GROUP_NAMES = ['billing', 'shipping'] as const;

const controllerKill: Scenario = {
  name: 'controller-kill',
  summary:
    "the KRaft metadata quorum's leader (active controller, a combined node) killed (-9) under live production and consumption, three times",
  async run(h, options) {
    const out: Recovery[] = [];
    for (let round = 1; round <= (options?.rounds ?? 3); round++) {
      await h.waitMoreAcks(100);
      const leader = quorumLeader();
      const t = Date.now();
      await killBroker(leader);
      h.log(`round ${round}: killed broker ${leader} (the metadata quorum's leader)`);
      let next = -1;
      const elected = await waitUntil(() => {
        try {
          next = quorumLeader();
          return next !== leader;
        } catch {
          return false;
        }
      }, 120_000);
      h.check(elected, `round ${round}: a new quorum leader (${next}) after killing ${leader}`);
      h.log(`round ${round}: new quorum leader ${next} seen ${fmt(Date.now() - t)} after the kill`);
      const r = await measure(h, `kill -9 quorum leader ${leader} (round ${round})`, t);
      await restartBroker(leader);
      out.push({ ...r, settleMs: await settle(h) });
    }
    return out;
  },
};

/** Copies of `count` records of partition 0 with one ciphertext byte flipped, written to partition 0. */
async function injectTampered(h: Harness, count: number): Promise<string[]> {
  const originals = (await readRaw(h.transport, h.topic, 200))
    .filter((r) => r.partition === 0 && r.value !== null)
    .slice(0, count);
  if (originals.length < count) throw new Error('not enough records on partition 0 to tamper with');
  const producer = h.transport.producer();
  await producer.connect();
  const offsets: string[] = [];
  try {
    for (const r of originals) {
      const value = Buffer.from(r.value!);
      const at = value.length - 40; // inside the sealed payload, before the tag
      value[at] = value[at]! ^ 0x01;
      const ack = await producer.send({
        topic: h.topic,
        partition: 0,
        records: [{ key: r.key, value, headers: r.headers }],
      });
      offsets.push(ack.baseOffset);
    }
  } finally {
    await producer.disconnect();
  }
  return offsets;
}

const dlqUnwritable: Scenario = {
  name: 'dlq-unwritable',
  summary:
    'the dead-letter topic deleted while tampered records (fail verification) sit among good ones on partition 0; it is created again 30 s later',
  async run(h) {
    const out: Recovery[] = [];
    await h.waitMoreAcks(200);
    const admin = clusterAdmin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: [h.deadLetterTopic], timeout: 30_000 });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const gone = await waitUntil(async () => {
      const a = h.transport.admin();
      await a.connect();
      try {
        return !(await a.listTopics()).includes(h.deadLetterTopic);
      } finally {
        await a.disconnect().catch(() => undefined);
      }
    }, 60_000);
    h.check(gone, `the dead-letter topic ${h.deadLetterTopic} deleted`);
    const tampered = await injectTampered(h, 3);
    const first = BigInt(tampered[0]!);
    h.log(`injected 3 tampered records on partition 0 at offsets ${tampered.join(', ')}`);
    // Both groups reach the first tampered record: the record before it handed out.
    const reached = await waitUntil(
      () =>
        GROUP_NAMES.every((g) => outsOf(h, g).some((x) => x.p === 0 && BigInt(x.o) === first - 1n)),
      180_000,
    );
    h.check(reached, `both groups handed out partition 0 up to offset ${first - 1n}`);
    // More good records behind the tampered ones, then the fault's duration (the scenario's
    // definition, not a wait for an outcome): the partition must wait.
    await h.waitMoreAcks(200);
    await sleep(30_000);
    for (const g of GROUP_NAMES) {
      const beyond = outsOf(h, g).filter((x) => x.p === 0 && BigInt(x.o) > first);
      h.check(
        beyond.length === 0,
        `${g}: nothing on partition 0 handed out past tampered offset ${first} while the dead-letter topic is missing (${beyond.length})`,
      );
      const c = (await committed(h, g)).get(0) ?? -1n;
      h.check(c <= first, `${g}: committed offset of partition 0 (${c}) not past ${first}`);
      const later = outsOf(h, g).filter((x) => x.p !== 0 && x.t > Date.now() - 10_000).length;
      h.log(`${g}: ${later} hand-outs on partitions 1-2 in the last 10 s (they go on)`);
    }
    const t = Date.now();
    const a = h.transport.admin();
    await a.connect();
    try {
      await a.createTopics([{ topic: h.deadLetterTopic }]);
    } finally {
      await a.disconnect().catch(() => undefined);
    }
    h.log('dead-letter topic created again');
    const dead = await waitUntil(
      async () => (await deadLetters(h)).length >= 2 * tampered.length,
      180_000,
    );
    const letters = await deadLetters(h);
    for (const g of GROUP_NAMES) {
      const mine = letters.filter((d) => d.group === h.groupId(g));
      h.check(
        dead &&
          mine.length === tampered.length &&
          tampered.every((o) => mine.some((d) => d.partition === 0 && d.offset === o)),
        `${g}: exactly the ${tampered.length} tampered records dead-lettered (${mine.map((d) => `0/${d.offset} ${d.cls}`).join(', ')})`,
      );
    }
    out.push(await measure(h, 'dead-letter topic created again', t));
    return out;
  },
};

const PERMANENT = 'p1-600';

const handlerThrows: Scenario = {
  name: 'handler-throws',
  summary: `billing's handler throws 3 times for every 50th message (transient), and always for ${PERMANENT} (permanent) until the application is fixed and restarted`,
  prepare(h) {
    h.consumerConfig.set('billing', {
      handlerFaults: { transientModulo: 50, transientTimes: 3, permanentPayload: PERMANENT },
    });
    return Promise.resolve();
  },
  async run(h) {
    const out: Recovery[] = [];
    const stuck = await waitUntil(
      () => throwsOf(h).filter((x) => x.n === PERMANENT).length >= 5,
      240_000,
    );
    h.check(stuck, `billing's handler threw for ${PERMANENT} at least 5 times`);
    const at = throwsOf(h).find((x) => x.n === PERMANENT)!;
    const o = BigInt(at.o);
    h.log(`${PERMANENT} is ${at.id} at ${at.p}/${at.o}`);
    // Production goes on; shipping (no fault) moves past the same record.
    await h.waitMoreAcks(300);
    const passed = await waitUntil(
      () => outsOf(h, 'shipping').some((x) => x.p === at.p && BigInt(x.o) > o + 50n),
      120_000,
    );
    h.check(
      passed,
      `shipping handed out ${at.p}/${o + 50n} and beyond (the same partition moves on for it)`,
    );
    // The throws first, then the hand-outs: each hand-out is recorded before its throw.
    const thrown = throwsOf(h);
    const billing = outsOf(h, 'billing');
    const beyond = billing.filter((x) => x.p === at.p && BigInt(x.o) > o);
    h.check(
      beyond.length === 0,
      `billing: nothing on partition ${at.p} handed out past ${o} (${beyond.length})`,
    );
    const c = (await committed(h, 'billing')).get(at.p) ?? -1n;
    h.check(c <= o, `billing: committed offset of partition ${at.p} (${c}) not past ${o}`);
    const letters = (await deadLetters(h)).filter((d) => d.group === h.groupId('billing'));
    h.check(letters.length === 0, `billing: nothing dead-lettered (${letters.length})`);
    const calls = billing.filter((x) => x.id === at.id);
    h.check(
      calls.slice(1).every((x) => x.r),
      `billing: every call after the first for ${PERMANENT} carried the redelivery flag (${calls.length} calls)`,
    );
    // Transient failures: each thrown exactly 3 times, then handed out once more and accepted.
    const transient = new Map<string, number>();
    for (const x of thrown)
      if (x.n !== PERMANENT) transient.set(x.id, (transient.get(x.id) ?? 0) + 1);
    const accepted = [...transient].filter(
      ([id, n]) => n === 3 && billing.filter((x) => x.id === id).length === 4,
    );
    const unfinished = [...transient].filter(([id]) => !accepted.some(([a]) => a === id));
    h.log(
      `transient: ${transient.size} messages threw, ${accepted.length} accepted on the 4th call`,
    );
    h.check(
      accepted.length > 0 &&
        unfinished.every(([id, n]) => {
          // Still in its retries (or backing off before the 4th call): every call so far threw, or
          // the newest call's throw is being recorded.
          const calls = billing.filter((x) => x.id === id).length;
          return n <= 3 && (calls === n || (n < 3 && calls === n + 1));
        }),
      `billing: each transiently failing message thrown 3 times then accepted on the 4th call (${accepted.length}; ${unfinished.length} still within their retries)`,
    );
    // The application's fix: a handler that no longer throws, deployed by restarting the consumer.
    const t = Date.now();
    h.consumerConfig.delete('billing');
    await stopChild(h.consumers.get('billing')!);
    await h.startConsumer('billing');
    h.log('billing restarted with a fixed handler');
    const resumed = await waitUntil(
      () => outsOf(h, 'billing').some((x) => x.p === at.p && BigInt(x.o) > o),
      180_000,
    );
    h.check(resumed, `billing: partition ${at.p} moves past ${o} after the fix`);
    out.push(await measure(h, 'billing restarted with a fixed handler', t));
    return out;
  },
};

let transitProbe: { keyName: string; plaintext: string; ciphertext: string } | undefined;

/** Whether the Transit key still opens the probe sealed before the restarts. */
async function transitKeySurvived(): Promise<boolean> {
  const e = getEndpoints();
  const p = transitProbe!;
  try {
    const r = (await new BaoAdmin(e.vaultAddr, e.vaultToken).call(
      'POST',
      `transit/decrypt/${p.keyName}`,
      { ciphertext: p.ciphertext },
    )) as { data: { plaintext: string } };
    return r.data.plaintext === p.plaintext;
  } catch {
    return false;
  }
}

const openbaoRestart: Scenario = {
  name: 'openbao-restart',
  persistentOpenbao: true,
  summary:
    'the consumers wrap their replay-state key with OpenBao Transit (persistent mode); OpenBao restarted under the pipeline, then killed while billing restarts, then started again',
  async prepare(h) {
    const e = getEndpoints();
    const keyName = `chaos-state-${randomBytes(4).toString('hex')}`;
    const bao = new BaoAdmin(e.vaultAddr, e.vaultToken);
    await bao.createTransitKey(keyName);
    // A probe sealed with the key now, opened after each restart: the Transit key survives it.
    const plaintext = randomBytes(32).toString('base64');
    const sealed = (await bao.call('POST', `transit/encrypt/${keyName}`, { plaintext })) as {
      data: { ciphertext: string };
    };
    transitProbe = { keyName, plaintext, ciphertext: sealed.data.ciphertext };
    for (const g of GROUP_NAMES)
      h.consumerConfig.set(g, { transitKms: { endpoint: e.vaultAddr, keyName } });
  },
  async run(h) {
    const out: Recovery[] = [];
    await h.waitMoreAcks(200);
    let t = Date.now();
    await stackRestart('openbao');
    h.log(`OpenBao restarted in ${fmt(Date.now() - t)}`);
    h.check(
      await transitKeySurvived(),
      'the Transit key survived the restart (a probe sealed before opens)',
    );
    out.push(await measure(h, 'OpenBao restarted (persistent, unsealed again)', t));
    await h.waitMoreAcks(100);
    await stackKill('openbao');
    const down = Date.now();
    h.log('OpenBao killed; restarting billing while it is down');
    await stopChild(h.consumers.get('billing')!);
    const member = `billing-2`;
    await h.startConsumer('billing');
    // The fault's duration (the scenario's definition): billing's new member must wait for OpenBao.
    await h.waitMoreAcks(100);
    await sleep(20_000);
    const early = outsOf(h, 'billing').filter((x) => x.m === member).length;
    h.check(early === 0, `${member}: nothing handed out while OpenBao is down (${early})`);
    const shipping = outsOf(h, 'shipping').filter((x) => x.t > down).length;
    h.check(shipping > 0, `shipping goes on while OpenBao is down (${shipping} hand-outs)`);
    t = Date.now();
    await stackRestart('openbao');
    h.log(`OpenBao back after ${fmt(Date.now() - down)} down`);
    h.check(await transitKeySurvived(), 'the Transit key survived the kill (-9) and start');
    const back = await waitUntil(() => outsOf(h, 'billing').some((x) => x.m === member), 180_000);
    h.check(back, `${member}: hands out once OpenBao is back`);
    out.push(await measure(h, 'OpenBao started again (billing restarted while it was down)', t));
    const letters = await deadLetters(h);
    h.check(letters.length === 0, `nothing dead-lettered (${letters.length})`);
    h.check(h.alerts.length === 0, `no alert (${h.alerts.join('; ')})`);
    return out;
  },
};

let registry: RegistryProxy | undefined;

const registry5xx: Scenario = {
  name: 'registry-5xx',
  summary:
    'the consumers reach the registry through a proxy: billing restarted while it answers 503 to everything (30 s), then 503 to schema look-ups only (30 s), then healed',
  async prepare(h) {
    registry = new RegistryProxy(getEndpoints().schemaRegistryUrl);
    await registry.start();
    const proxy = registry;
    h.cleanups.push(() => proxy.stop());
    for (const g of GROUP_NAMES) h.consumerConfig.set(g, { schemaRegistryUrl: proxy.url });
  },
  async run(h) {
    const proxy = registry!;
    const out: Recovery[] = [];
    await h.waitMoreAcks(200);
    const t = Date.now();
    proxy.failing = 'all';
    h.log('registry proxy answers 503 to everything; restarting billing');
    await stopChild(h.consumers.get('billing')!);
    const member = 'billing-2';
    // Its start-up retries run() (the registry is needed to register the envelope schema).
    const starting = h.startConsumer('billing');
    const refused = await waitUntil(() => proxy.refused >= 3, 120_000);
    h.check(refused, `the registry proxy refused billing's start-up (${proxy.refused} requests)`);
    // The fault's duration (the scenario's definition).
    await sleep(30_000);
    const atStart = proxy.refused;
    proxy.failing = 'lookups';
    h.log(`registry proxy answers 503 to schema look-ups only (${atStart} refused so far)`);
    await starting;
    const lookups = await waitUntil(() => proxy.refused >= atStart + 3, 120_000);
    h.check(
      lookups,
      `billing's look-ups of the writer schema refused (${proxy.refused - atStart})`,
    );
    await sleep(30_000);
    const early = outsOf(h, 'billing').filter((x) => x.m === member).length;
    h.check(early === 0, `${member}: nothing handed out while the registry answers 503 (${early})`);
    const shipping = outsOf(h, 'shipping').filter((x) => x.t > t).length;
    h.check(shipping > 0, `shipping (schemas cached) goes on meanwhile (${shipping} hand-outs)`);
    const healed = Date.now();
    proxy.failing = false;
    h.log(`registry proxy forwards again (${proxy.refused} requests refused in all)`);
    const back = await waitUntil(() => outsOf(h, 'billing').some((x) => x.m === member), 180_000);
    h.check(back, `${member}: hands out once the registry answers`);
    out.push(await measure(h, 'registry answers again after 60 s of 503', healed));
    const letters = await deadLetters(h);
    h.check(letters.length === 0, `nothing dead-lettered (${letters.length})`);
    return out;
  },
};

const twoBrokersDown: Scenario = {
  name: 'two-brokers-down',
  summary:
    'two of three brokers killed (-9) for at least 60 s and until a send failed: writes refused (SEND_FAILED, min.insync.replicas=2), then both restarted and the failed send resent',
  async run(h) {
    const out: Recovery[] = [];
    await h.waitMoreAcks(200);
    const victims = kafkaNodes()
      .map((n) => n.id)
      .slice(1);
    for (const id of victims) await killBroker(id);
    const downAt = Date.now();
    h.log(`killed brokers ${victims.join(', ')}; live: ${liveBrokers().join(', ')}`);
    const failed = await waitUntil(() => ledger(h).fails.some((f) => f.t > downAt), 180_000);
    h.check(failed, 'a send failed with SEND_FAILED while two brokers are down');
    // The fault's duration (the scenario's definition).
    const left = 60_000 - (Date.now() - downAt);
    if (left > 0) await sleep(left);
    const l = ledger(h);
    const begunDuring = new Set(l.tries.filter((x) => x.t > downAt).flatMap((x) => x.n));
    const up = Date.now();
    // Acks recorded while both were down of sends begun after they died (the producer does not pair
    // payload ids with acks: any ack after the kill of a batch begun after it counts).
    const firstBegun = l.tries.find((x) => x.t > downAt)?.t;
    const acksDuring = l.acks.filter(
      (a) => firstBegun !== undefined && a.t > firstBegun && a.t < up,
    );
    h.check(
      acksDuring.length === 0,
      `no send begun while two brokers were down was acknowledged before they returned (${acksDuring.length} acks; ${begunDuring.size} payloads begun)`,
    );
    const fails = l.fails.filter((f) => f.t > downAt);
    h.log(
      `while down: ${fails.length} failed sends (${[...new Set(fails.map((f) => f.code))].join(', ')}), ${l.acks.filter((a) => a.t > downAt).length} acks (of sends begun before the kill)`,
    );
    for (const id of victims) await restartBroker(id);
    h.log(`brokers ${victims.join(', ')} restarted (${fmt(Date.now() - up)})`);
    // From the restarts: the producer was resending its failed batch all along.
    const r = await measure(h, `two brokers (${victims.join(', ')}) back`, up);
    const resent = ledger(h).acks.find((a) => a.t > up);
    h.log(
      `first ack (the resent batch) ${fmt(resent === undefined ? undefined : resent.t - up)} after the restarts began`,
    );
    out.push({ ...r, settleMs: await settle(h) });
    return out;
  },
};

export const moreScenarios: readonly Scenario[] = [
  controllerKill,
  dlqUnwritable,
  handlerThrows,
  openbaoRestart,
  registry5xx,
  twoBrokersDown,
];
