/**
 * #21.1, docs/OPERATIONS.md step 7 as written, on the real stack (OpenBao Transit, Kafka): a consumer
 * with committed replay state keeps running through a KMS key rotation, the rewrap of everything
 * sealpost wrapped (identity files, token keys, the replay-state key records on the state topic) and
 * the raised minimum decryption version; restarted afterwards it resumes where it committed.
 *
 * Invariant (from the ledger of sent and handed-out records): every record sent is handed to the
 * handler exactly once across both consumer runs, and the restarted consumer raises no
 * REPLAY_STATE_* alert. And: raising the minimum refuses while any wrapped key is below it, naming it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DirectoryRecordDraft } from '../../src/keys/directory/directory-signer.js';
import { publicGenerations, readIdentityFile } from '../../src/keys/identity-file.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import { openIdentity } from '../../src/keys/operations.js';
import { silentLogger } from '../../src/pipeline/pipeline-logger.js';
import { ReplayStateStore } from '../../src/pipeline/replay-state-store.js';
import { SealedConsumer } from '../../src/pipeline/sealed-consumer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { runCli } from '../support/run-cli.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { guideStepCommands } from '../support/operations-guide.js';
import { startProducer, type TestProducer } from '../support/pipeline-parties.js';
import {
  makePipelineWorld,
  ORDER_SCHEMA,
  pipelineTopics,
  type PipelineWorld,
} from '../support/pipeline-world.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';

const transport = testTransport('kms-rewrap-replay-state');
const topic = freshTopic('rewrap-rs');
const t = pipelineTopics('rewrap-rs');
const group = `billing-${topic}`;
const transitKey = `test-rewrap-${randomBytes(4).toString('hex')}`;
let dir: string;
let env: Record<string, string>;
let world: PipelineWorld;
let admin: BaoAdmin;
let orders: TestProducer;

/** Handed-out records by order id, over every consumer run (the ledger). */
const handedOut = new Map<string, number>();
const sent: string[] = [];

async function cli(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, env);
}

async function mustRun(argv: readonly string[]): Promise<string> {
  const r = await cli(argv);
  if (r.code !== 0) throw new Error(`sealpost ${argv.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

function transitKms(): Promise<OpenBaoTransitKms> {
  const e = getEndpoints();
  return OpenBaoTransitKms.create({
    endpoint: e.vaultAddr,
    keyName: transitKey,
    auth: { method: 'token', token: e.vaultToken },
    clock: systemClock,
  });
}

interface RunningConsumer {
  readonly alerts: string[];
  readonly handled: () => number;
  stop(): Promise<void>;
}

/** The `billing` service as it starts: identity file and replay-state key unwrapped by Transit. */
async function startBilling(): Promise<RunningConsumer> {
  const kms = await transitKms();
  const identity = await openIdentity({
    path: join(env.SEALPOST_KEYS_DIR!, 'billing.json'),
    kms,
    crypto: world.crypto,
  });
  const directory = await world.directory();
  const alerts: string[] = [];
  let handled = 0;
  const consumer = new SealedConsumer({
    transport,
    registry: world.registry(),
    crypto: world.crypto,
    clock: systemClock,
    identity,
    directory,
    kms,
    groupId: group,
    topics: [topic],
    stateTopic: t.state,
    deadLetterTopic: t.dlq,
    fromBeginning: true,
    onAlert: (a) => alerts.push(a.code),
    consumerOptions: { retryInitialDelayMs: 100, retryMaxDelayMs: 2000 },
  });
  await consumer.run({
    eachMessage: (d) => {
      const id = (d.value as { id: string }).id;
      handedOut.set(id, (handedOut.get(id) ?? 0) + 1);
      handled++;
      return Promise.resolve();
    },
  });
  return {
    alerts,
    handled: () => handled,
    async stop() {
      await consumer.close();
      identity.close();
      await kms.close();
    },
  };
}

async function send(prefix: string, n: number): Promise<void> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  await orders.producer.send({
    topic,
    messages: ids.map((id, i) => ({ key: 'k', value: { id, cents: i, note: '' } })),
  });
  sent.push(...ids);
}

/** Waits until `c` handed out `n` records, or stops early on a replay-state alert (then fails). */
async function handles(c: RunningConsumer, n: number, what: string): Promise<void> {
  await waitFor(() => c.handled() >= n || c.alerts.length > 0, what, 60_000);
  expect(c.alerts).toEqual([]);
}

beforeAll(async () => {
  const e = getEndpoints();
  admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
  await admin.ensureTransit();
  await admin.createTransitKey(transitKey);
  dir = await mkdtemp(join(tmpdir(), 'sealpost-rewrap-rs-'));
  env = {
    SEALPOST_KMS: 'vault',
    VAULT_ADDR: e.vaultAddr,
    VAULT_TOKEN: e.vaultToken,
    VAULT_TRANSIT_KEY: transitKey,
    SEALPOST_KEYS_DIR: join(dir, 'keys'),
    KAFKA_BROKERS: e.kafkaBrokers.join(','),
    SEALPOST_STATE_TOPIC: t.state,
  };
  await createTopics(transport, [{ topic }, { topic: t.dlq }, { topic: t.state, compacted: true }]);
  // Steps 1 and 2 of the guide as written, then a token-key file under the same KMS key.
  for (const argv of [...guideStepCommands('1'), ...guideStepCommands('2')]) await mustRun(argv);
  await mustRun(['tokenize', 'keys', 'init', '--classes', 'card', '--kms', 'vault']);
  // The directory (signed in memory by the test's authority) lists billing's Transit-wrapped keys.
  world = await makePipelineWorld([{ name: 'orders', send: [topic], receive: [] }]);
  const billing = publicGenerations(
    await readIdentityFile(join(env.SEALPOST_KEYS_DIR!, 'billing.json'), world.crypto),
  ).find((g) => g.state === 'active')!;
  const now = Date.now();
  const draft: DirectoryRecordDraft = {
    identity: 'billing',
    status: 'active',
    boxKid: billing.boxKid,
    boxPublicKey: billing.boxPublicKey,
    signKid: billing.signKid,
    signPublicKey: billing.signPublicKey,
    validFromMs: now - 60_000,
    validUntilMs: now + 86_400_000,
    retiredAtMs: null,
    sendTopics: [],
    receiveTopics: [topic],
  };
  await world.change([draft]);
  orders = await startProducer(world, transport, 'orders', {
    valueSchemas: { [topic]: ORDER_SCHEMA },
  });
}, 120_000);

afterAll(async () => {
  await orders?.producer.close();
  await world?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('KMS rotation and rewrap under a running consumer (#21.1, OPERATIONS.md step 7)', () => {
  it('the consumer keeps running and, restarted, resumes without replay-state alerts or redelivery', async () => {
    const first = await startBilling();
    await send('a', 20);
    await handles(first, 20, 'batch a');

    for (const argv of guideStepCommands('7')) await mustRun(argv);
    const kms = await transitKms();
    const described = await kms.describe();
    await kms.close();
    expect(described.minDecryptionVersion).toBe(described.latestVersion);
    expect(described.latestVersion).toBeGreaterThan(1);

    // The running consumer holds its keys: it carries on after the minimum was raised.
    await send('b', 20);
    await handles(first, 40, 'batch b');
    await first.stop();

    const second = await startBilling();
    try {
      await send('c', 20);
      await handles(second, 20, 'batch c after the restart');
      // The ledger: every record sent handed out exactly once over both runs.
      expect([...handedOut.keys()].sort()).toEqual([...sent].sort());
      expect([...handedOut.values()].every((n) => n === 1)).toBe(true);
      expect(second.handled()).toBe(20);
    } finally {
      await second.stop();
    }
  }, 300_000);

  it('raising the minimum refuses while a wrapped key is below it, and names each one', async () => {
    // Only the audit identity is rewrapped after this rotation: everything else stays below.
    const r = await cli([
      'keys',
      'rewrap',
      'audit',
      '--kms',
      'vault',
      '--rotate-kms-key',
      '--raise-min-decryption-version',
    ]);
    const kms = await transitKms();
    const described = await kms.describe();
    await kms.close();
    expect(r.code, r.out + r.err).toBe(1);
    expect(described.minDecryptionVersion).toBe(described.latestVersion - 1);
    const below = `v${described.latestVersion - 1}`;
    expect(r.err).toContain(`identity file ${join(env.SEALPOST_KEYS_DIR!, 'billing.json')}`);
    expect(r.err).toContain(`token-key file ${join(env.SEALPOST_KEYS_DIR!, 'token-keys.json')}`);
    expect(r.err).toContain(`state topic ${t.state} key record of billing for group ${group}`);
    expect(r.err).toContain(`at ${below}`);
    expect(r.err).not.toContain(join(env.SEALPOST_KEYS_DIR!, 'audit.json'));
  }, 120_000);

  it('a running state store that re-reads the state topic after a rewrap accepts the new key record', async () => {
    const kms = await transitKms();
    const producer = transport.producer();
    await producer.connect();
    const options = {
      transport,
      producer,
      stateTopic: t.state,
      group: `reread-${topic}`,
      identity: 'billing',
      crypto: world.crypto,
      clock: systemClock,
      logger: silentLogger,
    };
    const running = new ReplayStateStore({ ...options, kms });
    const fresh = new ReplayStateStore({ ...options, kms: await transitKms() });
    try {
      await running.scan();
      const state = {
        generation: 0,
        nextOffset: null,
        windows: new Map(),
        entityVersions: new Map(),
        handOutMark: null,
      };
      const { metadata } = await running.write('orders.v1', 0, state, 10n);
      for (const argv of guideStepCommands('7')) await mustRun(argv);
      const committed = { offset: '10', metadata };
      // The running store re-reads the topic (as on a rebalance) and keeps its state.
      await running.scan();
      expect(running.load('orders.v1', 0, committed, 'pause').kind).toBe('loaded');
      // A store started now unwraps the rewrapped record (the old wrap is below the minimum).
      await fresh.scan();
      expect(fresh.load('orders.v1', 0, committed, 'pause').kind).toBe('loaded');
      // So does one that reads only what the commit points to (docs/API.md, "Replay state"): the
      // pointer names the old key record; its wrap is below the minimum, so the store reads on to
      // the rewrapped one.
      const targetedKms = await transitKms();
      const targeted = new ReplayStateStore({ ...options, kms: targetedKms });
      try {
        await targeted.scan([{ topic: 'orders.v1', partition: 0, committed }]);
        expect(targeted.load('orders.v1', 0, committed, 'pause').kind).toBe('loaded');
      } finally {
        targeted.close();
        await targetedKms.close();
      }
    } finally {
      running.close();
      fresh.close();
      await producer.disconnect();
      await kms.close();
    }
  }, 120_000);
});
