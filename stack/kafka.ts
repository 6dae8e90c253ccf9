import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { progress, StackError } from './progress.js';
import { certPaths, stackPaths } from './paths.js';
import { spawnService } from './processes.js';
import { host, ports } from './versions.js';
import type { JavaRuntime } from './prerequisites.js';

/** Where a broker listens and keeps its data: the stack's own, or a private test broker's. */
export interface KafkaLayout {
  readonly plaintextPort: number;
  readonly sslPort: number;
  readonly controllerPort: number;
  readonly dataDir: string;
}

/** The stack's broker layout (the contract's ports). */
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
 * The broker's configuration: KRaft, one combined broker+controller, tuned for tests. Exported (with
 * a layout) so a test can start a private broker with exactly the stack's settings on other ports.
 */
export function serverProperties(layout: KafkaLayout = stackKafkaLayout): string {
  const lines = [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@${host}:${layout.controllerPort}`,
    `listeners=PLAINTEXT://${host}:${layout.plaintextPort},SSL://${host}:${layout.sslPort},CONTROLLER://${host}:${layout.controllerPort}`,
    `advertised.listeners=PLAINTEXT://${host}:${layout.plaintextPort},SSL://${host}:${layout.sslPort}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${layout.dataDir}`,
    // Tests create their topics with the admin client; a typo must fail, not create a topic.
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
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

/**
 * Writes the configuration, formats a fresh log directory (the registry and OpenBao keep their state
 * in memory, so Kafka starts empty too) and starts `kafka.Kafka` detached. Returns its pid.
 */
export function startKafka(java: JavaRuntime): number {
  mkdirSync(stackPaths.kafkaDir, { recursive: true });
  mkdirSync(stackPaths.logsDir, { recursive: true });
  writeFileSync(stackPaths.kafkaConfig, serverProperties());
  writeFileSync(stackPaths.kafkaLog4j, log4j2Properties());
  rmSync(stackPaths.kafkaData, { recursive: true, force: true });
  mkdirSync(stackPaths.kafkaData, { recursive: true });
  const clusterId = randomBytes(16).toString('base64url');
  progress('formatting Kafka storage (KRaft)');
  const format = spawnSync(
    java.java,
    [
      ...javaArgs('kafka.tools.StorageTool', '256m'),
      'format',
      '-t',
      clusterId,
      '-c',
      stackPaths.kafkaConfig,
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    throw new StackError(`kafka-storage format failed:\n${format.stdout}${format.stderr}`);
  }
  progress(
    `starting Kafka (java ${java.major}) on ${host}:${ports.kafkaPlaintext} (PLAINTEXT), :${ports.kafkaSsl} (mTLS)`,
  );
  return spawnService({
    name: 'kafka',
    command: java.java,
    args: [...javaArgs('kafka.Kafka', '1g'), stackPaths.kafkaConfig],
    cwd: stackPaths.kafkaDir,
    env: { ...process.env },
  });
}

/** Real readiness: the admin client gets the cluster description over the PLAINTEXT listener. */
export async function kafkaReady(): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'sealpost-stack-probe',
    brokers: [`${host}:${ports.kafkaPlaintext}`],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2_000,
    requestTimeout: 5_000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
