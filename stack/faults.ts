/**
 * Fault tools for the local Kafka cluster, usable from tests and from the chaos runner
 * (`npm run chaos`): kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT) and restart a broker by node
 * id, find a partition's leader, and wait until the cluster has settled (every broker registered,
 * every partition led with its full ISR). The cluster is the stack's (`up --brokers 3`).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { recordedCluster } from './kafka.js';
import { isStopped, runningPid } from './processes.js';
import { stackKill, stackPause, stackRestart, kafkaNodes } from './stack.js';
import { host } from './versions.js';
import { StackError } from './progress.js';

/** The service name of broker `id` of the recorded cluster; throws for an unknown id. */
function brokerService(id: number) {
  const node = kafkaNodes().find((n) => n.id === id);
  if (node === undefined) {
    throw new StackError(
      `no broker ${id} in the recorded cluster (${recordedCluster()?.brokers ?? 0} nodes)`,
    );
  }
  return node.service;
}

/** SIGKILL: a crash, no controlled shutdown. Returns when the process is gone. */
export async function killBroker(id: number): Promise<void> {
  await stackKill(brokerService(id));
}

/** SIGSTOP: the broker freezes with its connections open (a zombie leader once it resumes). */
export function pauseBroker(id: number): void {
  stackPause(brokerService(id), true);
}

/** SIGCONT after {@link pauseBroker}. */
export function resumeBroker(id: number): void {
  stackPause(brokerService(id), false);
}

/** Restarts a broker (stopped cleanly when it runs, started on its kept data), waits until it answers. */
export async function restartBroker(id: number): Promise<void> {
  await stackRestart(brokerService(id));
}

/** Ids of the brokers whose process runs and is not paused. */
export function liveBrokers(): number[] {
  return kafkaNodes()
    .filter((n) => {
      const pid = runningPid(n.service);
      return pid !== undefined && !isStopped(pid);
    })
    .map((n) => n.id);
}

/** An admin client over every live broker of the recorded cluster (PLAINTEXT). */
export function clusterAdmin(): Admin {
  const live = new Set(liveBrokers());
  const brokers = kafkaNodes()
    .filter((n) => live.has(n.id))
    .map((n) => `${host}:${n.layout.plaintextPort}`);
  if (brokers.length === 0) throw new StackError('no live broker');
  return new Kafka({
    clientId: 'sealpost-faults',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    // Its metadata may still name a broker that just died: a couple of quick retries move past it.
    retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 1_000 },
  }).admin();
}

/** The leader (node id) of a partition now, or -1 when it has none. */
export async function partitionLeader(topic: string, partition: number): Promise<number> {
  const admin = clusterAdmin();
  try {
    await admin.connect();
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = md.topics[0]?.partitions.find((x) => x.partitionId === partition);
    if (p === undefined) throw new StackError(`no partition ${topic}/${partition}`);
    return p.leader;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Why the cluster is not settled (undefined when it is). */
export async function unsettledReason(
  topics?: readonly string[],
  options: { requireAllBrokers?: boolean } = {},
): Promise<string | undefined> {
  const all = options.requireAllBrokers ?? true;
  // The metadata keeps naming a dead broker until the controller fences it (broker.session.timeout.ms,
  // 9 s): the process table is checked first, so "settled" is never read from that stale picture.
  const live = new Set(liveBrokers());
  const expected = all ? kafkaNodes().map((n) => n.id) : [...live];
  const down = kafkaNodes()
    .filter((n) => !live.has(n.id))
    .map((n) => n.id);
  if (all && down.length > 0) return `broker(s) ${down.join(', ')} not running (or paused)`;
  const admin = clusterAdmin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const registered = new Set(cluster.brokers.map((b) => b.nodeId));
    const missing = expected.filter((id) => !registered.has(id));
    if (missing.length > 0) return `broker(s) ${missing.join(', ')} not registered`;
    if (cluster.controller === null) return 'no controller';
    const names = topics ?? (await admin.listTopics());
    const md = await admin.fetchTopicMetadata({ topics: [...names] });
    for (const t of md.topics) {
      for (const p of t.partitions) {
        if (p.leader < 0 || !live.has(p.leader))
          return `${t.name}/${p.partitionId} has no live leader (${p.leader})`;
        if (all && p.isr.length < p.replicas.length)
          return `${t.name}/${p.partitionId} ISR ${p.isr.join(',')} of replicas ${p.replicas.join(',')}`;
      }
    }
    return undefined;
  } catch (err) {
    return `admin: ${(err as Error).message}`;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until the cluster has settled: every broker of the recorded cluster registered, a controller,
 * and every partition (of `topics`, default all) with a leader and its full ISR. Returns the time it
 * took in ms; throws with the last reason after `timeoutMs`. With `requireAllBrokers: false` (a broker
 * is down on purpose): every partition led by a live broker, ISR not required to be full.
 */
export async function waitSettled(
  options: { topics?: readonly string[]; timeoutMs?: number; requireAllBrokers?: boolean } = {},
): Promise<number> {
  const began = performance.now();
  const deadline = began + (options.timeoutMs ?? 120_000);
  let reason: string | undefined;
  for (;;) {
    reason = await unsettledReason(options.topics, options);
    if (reason === undefined) return performance.now() - began;
    if (performance.now() > deadline) throw new StackError(`the cluster did not settle: ${reason}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
