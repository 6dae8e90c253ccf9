/**
 * A private, throwaway Kafka broker with exactly the stack's configuration (stack/kafka.ts
 * serverProperties: StandardAuthorizer, super users, mTLS listener with the stack CA) on free ports,
 * for tests that change cluster-wide state such as ACLs — so the shared stack is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { javaArgs, log4j2Properties, newClusterId, serverProperties } from '../../stack/kafka.js';
import { findJavaRuntimes } from '../../stack/prerequisites.js';
import { createKafkajsTransport } from '../../src/kafka/kafkajs-transport.js';
import { freePort } from './openbao-process.js';
import { testLogger } from './test-transport.js';

export interface PrivateKafka {
  readonly plaintextBroker: string;
  readonly sslBroker: string;
  stop(): Promise<void>;
}

export async function startPrivateKafka(
  options: { readyTimeoutMs?: number } = {},
): Promise<PrivateKafka> {
  const java = findJavaRuntimes().find((r) => r.major >= 17);
  if (java === undefined) throw new Error('no Java 17+ for the private broker');
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-private-kafka-'));
  const layout = {
    plaintextPort: await freePort(),
    sslPort: await freePort(),
    controllerPort: await freePort(),
    dataDir: join(dir, 'data'),
  };
  mkdirSync(layout.dataDir);
  const config = join(dir, 'server.properties');
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(config, serverProperties(layout));
  writeFileSync(log4j, log4j2Properties(join(dir, 'kafka.log')));
  const format = spawnSync(
    java.java,
    [
      ...javaArgs('kafka.tools.StorageTool', '256m', log4j, dir),
      'format',
      '-t',
      newClusterId(),
      '-c',
      config,
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) throw new Error(`private broker format failed: ${format.stderr}`);
  const child: ChildProcess = spawn(
    java.java,
    [...javaArgs('kafka.Kafka', '512m', log4j, dir), config],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const plaintextBroker = `127.0.0.1:${layout.plaintextPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  const transport = createKafkajsTransport({
    brokers: [plaintextBroker],
    clientId: 'private-kafka-probe',
    logger: testLogger,
    nowMs: () => Date.now(),
    connectionTimeoutMs: 2000,
    kafkaConfig: { retry: { retries: 0 } },
  });
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error('the private broker exited during start-up');
    }
    const admin = transport.admin();
    try {
      await admin.connect();
      await admin.listTopics();
      await admin.disconnect();
      break;
    } catch {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error('the private broker did not become ready');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { plaintextBroker, sslBroker: `127.0.0.1:${layout.sslPort}`, stop };
}
