import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { progress, StackError } from './progress.js';
import { certPaths, stackPaths } from './paths.js';
import { spawnService, type ServiceName } from './processes.js';
import { host, kafkaNodePorts, MAX_BROKERS, ports } from './versions.js';
import type { JavaRuntime } from './prerequisites.js';

/** Where a broker listens and keeps its data: the stack's own, or a private test broker's. */
export interface KafkaLayout {
  readonly plaintextPort: number;
  readonly sslPort: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  /** This node's id (default 1). */
  readonly nodeId?: number;
  /** `controller.quorum.voters` (default: this node alone). */
  readonly voters?: string;
  /**
   * The FAULT listener (PLAINTEXT protocol): the broker binds `internal` and advertises `advertised`,
   * where a fault proxy forwards to `internal` (README, "Local stack", fault proxy).
   */
  readonly faultListener?: { readonly internal: number; readonly advertised: number };
  /**
   * Replication of the project's topics and of the internal ones (default 1 and 1): a cluster uses
   * factor 3 and min.insync.replicas 2.
   */
  readonly replication?: { readonly factor: number; readonly minInsync: number };
}

/** The configuration files, data and log of one stack Kafka node. */
export interface KafkaNode {
  readonly id: number;
  readonly service: ServiceName;
  readonly layout: KafkaLayout;
  readonly config: string;
  readonly log4j: string;
  readonly log: string;
}

/** The service name of node `id`: `kafka` for node 1 (as since the first stack), `kafka-<id>` after. */
export function kafkaServiceName(id: number): ServiceName {
  return id === 1 ? 'kafka' : `kafka-${id}`;
}

/** The stack's Kafka node `id` of a cluster of `brokers` nodes (ports: versions.ts kafkaNodePorts). */
export function stackKafkaNode(id: number, brokers: number): KafkaNode {
  const p = kafkaNodePorts(id);
  const voters = Array.from(
    { length: brokers },
    (_, i) => `${i + 1}@${host}:${kafkaNodePorts(i + 1).controller}`,
  ).join(',');
  const suffix = id === 1 ? '' : `-${id}`;
  return {
    id,
    service: kafkaServiceName(id),
    layout: {
      plaintextPort: p.plaintext,
      sslPort: p.ssl,
      controllerPort: p.controller,
      dataDir: id === 1 ? stackPaths.kafkaData : `${stackPaths.kafkaData}${suffix}`,
      nodeId: id,
      voters,
      faultListener: { internal: p.faultInternal, advertised: p.faultAdvertised },
      replication: brokers >= 3 ? { factor: 3, minInsync: 2 } : { factor: 1, minInsync: 1 },
    },
    config: join(stackPaths.kafkaStateDir, `server${suffix}.properties`),
    log4j: join(stackPaths.kafkaStateDir, `log4j2${suffix}.properties`),
    log: join(stackPaths.logsDir, `kafka${suffix}.log`),
  };
}

/** The stack's broker layout of a single broker (the contract's ports). */
export const stackKafkaLayout: KafkaLayout = {
  plaintextPort: ports.kafkaPlaintext,
  sslPort: ports.kafkaSsl,
  controllerPort: ports.kafkaController,
  dataDir: stackPaths.kafkaData,
};

/**
 * The principal of the stack's shared client certificate (KAFKA_SSL_CERT_FILE, subject
 * CN=sealpost-stack-client): a super user, like ANONYMOUS on the PLAINTEXT listener.
 */
export const STACK_CLIENT_PRINCIPAL = 'User:CN=sealpost-stack-client';

/**
 * The broker's configuration: KRaft, combined broker+controller nodes, tuned for tests. Exported (with
 * a layout) so a test can start a private broker with exactly the stack's settings on other ports.
 */
export function serverProperties(layout: KafkaLayout = stackKafkaLayout): string {
  const id = layout.nodeId ?? 1;
  const rf = layout.replication?.factor ?? 1;
  const minIsr = layout.replication?.minInsync ?? 1;
  const fault = layout.faultListener;
  const lines = [
    'process.roles=broker,controller',
    `node.id=${id}`,
    `controller.quorum.voters=${layout.voters ?? `${id}@${host}:${layout.controllerPort}`}`,
    `listeners=PLAINTEXT://${host}:${layout.plaintextPort},SSL://${host}:${layout.sslPort},CONTROLLER://${host}:${layout.controllerPort}` +
      (fault === undefined ? '' : `,FAULT://${host}:${fault.internal}`),
    `advertised.listeners=PLAINTEXT://${host}:${layout.plaintextPort},SSL://${host}:${layout.sslPort}` +
      (fault === undefined ? '' : `,FAULT://${host}:${fault.advertised}`),
    `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT${fault === undefined ? '' : ',FAULT:PLAINTEXT'}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${layout.dataDir}`,
    // Tests create their topics with the admin client; a typo must fail, not create a topic.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    // A cluster (3+ nodes): every topic on 3 replicas, a write needs 2 of them (acks=all) — one broker
    // may fail without losing an acknowledged record or stopping writes (docs/OPERATIONS.md).
    `default.replication.factor=${rf}`,
    `min.insync.replicas=${minIsr}`,
    `offsets.topic.replication.factor=${rf}`,
    'offsets.topic.num.partitions=1',
    `transaction.state.log.replication.factor=${rf}`,
    `transaction.state.log.min.isr=${minIsr}`,
    'transaction.state.log.num.partitions=1',
    `share.coordinator.state.topic.replication.factor=${rf}`,
    `share.coordinator.state.topic.min.isr=${minIsr}`,
    'unclean.leader.election.enable=false',
    // Consumers in tests join at once instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // mTLS listener: PEM keystore (PKCS#8 key + chain) and PEM truststore (the stack CA).
    'listener.name.ssl.ssl.client.auth=required',
    'listener.name.ssl.ssl.keystore.type=PEM',
    `listener.name.ssl.ssl.keystore.location=${certPaths.brokerKeystore}`,
    'listener.name.ssl.ssl.truststore.type=PEM',
    `listener.name.ssl.ssl.truststore.location=${certPaths.caCert}`,
    'ssl.endpoint.identification.algorithm=',
    // Broker ACLs (`sealpost acl plan|apply`): each service connects over mTLS with its own certificate,
    // principal User:CN=<identity>. Super users: ANONYMOUS — the PLAINTEXT listener, which also carries
    // the controller and inter-broker traffic and every existing test — and the stack's shared client
    // certificate. Everyone else needs an ACL: no ACL found means denied.
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    `super.users=User:ANONYMOUS;${STACK_CLIENT_PRINCIPAL}`,
    'allow.everyone.if.no.acl.found=false',
  ];
  return `# written by \`npm run stack -- up\` (stack/kafka.ts); regenerated on every start\n${lines.join('\n')}\n`;
}

/** log4j2 configuration: everything to `.stack/logs/kafka.log` (Kafka's POM ships no binding). */
export function log4j2Properties(file: string = join(stackPaths.logsDir, 'kafka.log')): string {
  return [
    'status = warn',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${file}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    'logger.state.name = state.change.logger',
    'logger.state.level = WARN',
    'logger.authorizer.name = kafka.authorizer.logger',
    'logger.authorizer.level = WARN',
    '',
  ].join('\n');
}

/** JVM arguments for a Kafka main class (a private broker passes its own log4j2 file and log folder). */
export function javaArgs(
  mainClass: string,
  heap: string,
  log4jFile: string = stackPaths.kafkaLog4j,
  logsDir: string = stackPaths.logsDir,
): string[] {
  return [
    `-Xmx${heap}`,
    '-Xms128m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    `-Dkafka.logs.dir=${logsDir}`,
    '-cp',
    join(stackPaths.kafkaLibs, '*'),
    mainClass,
  ];
}

/** What the stack recorded about its Kafka cluster: size and id (`.stack/kafka/cluster.json`). */
export interface ClusterRecord {
  readonly brokers: number;
  readonly clusterId: string;
}

const clusterFile = join(stackPaths.kafkaStateDir, 'cluster.json');

/** The recorded cluster (undefined before the first start or after a wipe). */
export function recordedCluster(): ClusterRecord | undefined {
  if (!existsSync(clusterFile)) return undefined;
  try {
    const r = JSON.parse(readFileSync(clusterFile, 'utf8')) as Partial<ClusterRecord>;
    if (typeof r.brokers === 'number' && typeof r.clusterId === 'string')
      return { brokers: r.brokers, clusterId: r.clusterId };
  } catch {
    // unreadable: treated as absent (the next start formats afresh)
  }
  return undefined;
}

/**
 * A KRaft cluster id: 16 random bytes, base64url — never starting with '-', which kafka-storage's
 * argument parser would take for an option (`-t -xyz…` fails one start in 64; Kafka's own
 * Uuid.randomUuid() draws again for the same reason).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A new cluster id recorded for `brokers` nodes. */
export function recordNewCluster(brokers: number): ClusterRecord {
  mkdirSync(stackPaths.kafkaStateDir, { recursive: true });
  const record = { brokers, clusterId: newClusterId() };
  writeFileSync(clusterFile, `${JSON.stringify(record)}\n`);
  return record;
}

/** Deletes every Kafka node's data and the cluster record (`stack wipe`; nothing may run). */
export function wipeKafkaData(): void {
  for (let id = 1; id <= MAX_BROKERS; id++) {
    rmSync(stackKafkaNode(id, 1).layout.dataDir, { recursive: true, force: true });
  }
  rmSync(clusterFile, { force: true });
}

/** True when the node's log directory is formatted (KRaft `meta.properties` present). */
export function kafkaNodeFormatted(node: KafkaNode): boolean {
  return existsSync(join(node.layout.dataDir, 'meta.properties'));
}

function formatArgs(node: KafkaNode, cluster: ClusterRecord): string[] {
  return [
    ...javaArgs('kafka.tools.StorageTool', '256m', node.log4j),
    'format',
    '-t',
    cluster.clusterId,
    '-c',
    node.config,
  ];
}

function writeNodeConfig(node: KafkaNode): void {
  mkdirSync(stackPaths.kafkaStateDir, { recursive: true });
  mkdirSync(stackPaths.logsDir, { recursive: true });
  writeFileSync(node.config, serverProperties(node.layout));
  writeFileSync(node.log4j, log4j2Properties(node.log));
}

function formatKafkaNode(java: JavaRuntime, node: KafkaNode, cluster: ClusterRecord): void {
  mkdirSync(node.layout.dataDir, { recursive: true });
  progress(`formatting Kafka storage of ${node.service} (KRaft)`);
  const run = spawnSync(java.java, formatArgs(node, cluster), { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new StackError(
      `kafka-storage format of ${node.service} failed:\n${run.stdout}${run.stderr}`,
    );
  }
}

/**
 * Formats the unformatted log directories of `nodes` in parallel (one JVM each, ~5 s on a busy
 * machine: formatting a cluster one node after the other would add that per node to `up`).
 */
export async function formatKafkaNodes(
  java: JavaRuntime,
  nodes: readonly KafkaNode[],
  cluster: ClusterRecord,
): Promise<void> {
  await Promise.all(
    nodes
      .filter((n) => !kafkaNodeFormatted(n))
      .map(async (node) => {
        writeNodeConfig(node);
        mkdirSync(node.layout.dataDir, { recursive: true });
        progress(`formatting Kafka storage of ${node.service} (KRaft)`);
        const child = spawn(java.java, formatArgs(node, cluster), {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((r) => child.once('close', r));
        if (code !== 0)
          throw new StackError(`kafka-storage format of ${node.service} failed:\n${out}`);
      }),
  );
}

/**
 * Writes the node's configuration, formats its log directory when `format` says so ('fresh': always,
 * after deleting it — the single broker's `up`, whose registry and OpenBao start empty too;
 * 'if-missing': only an unformatted directory — a cluster node keeps its data across restarts) and
 * starts `kafka.Kafka` detached. Returns its pid.
 */
export function startKafkaNode(
  java: JavaRuntime,
  node: KafkaNode,
  cluster: ClusterRecord,
  format: 'fresh' | 'if-missing',
): number {
  writeNodeConfig(node);
  if (format === 'fresh') rmSync(node.layout.dataDir, { recursive: true, force: true });
  if (!kafkaNodeFormatted(node)) formatKafkaNode(java, node, cluster);
  progress(
    `starting ${node.service} (java ${java.major}) on ${host}:${node.layout.plaintextPort} (PLAINTEXT), :${node.layout.sslPort} (mTLS)`,
  );
  return spawnService({
    name: node.service,
    command: java.java,
    // A single broker keeps today's 1 GiB heap; cluster nodes share two cores and run with 512 MiB.
    args: [
      ...javaArgs('kafka.Kafka', cluster.brokers === 1 ? '1g' : '512m', node.log4j),
      node.config,
    ],
    cwd: stackPaths.kafkaStateDir,
    env: { ...process.env },
  });
}

function probeAdmin(brokers: string[]): ReturnType<Kafka['admin']> {
  return new Kafka({
    clientId: 'sealpost-stack-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  }).admin();
}

/**
 * Real readiness of one node: asked on its own PLAINTEXT listener, the cluster description lists this
 * node (registered and unfenced) and names a controller.
 */
export async function kafkaNodeReady(node: KafkaNode): Promise<boolean> {
  const admin = probeAdmin([`${host}:${node.layout.plaintextPort}`]);
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.controller !== null && cluster.brokers.some((b) => b.nodeId === node.id);
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Real readiness of the single broker (node 1). */
export async function kafkaReady(): Promise<boolean> {
  return kafkaNodeReady(stackKafkaNode(1, 1));
}
