/**
 * #21.9: a worker started the documented way (`npm run worker:dlq`, `npm run worker:audit`) stops
 * when its launcher gets SIGTERM — as a supervisor (systemd, a container runtime, a shell's `kill`)
 * sends it to the process it started. Invariant: within the bound, the process that printed the ready
 * line is gone and its HTTP port refuses connections; nothing keeps answering health checks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { pipelineTopics } from '../support/pipeline-world.js';
import { createTopics, freshTopic, waitFor } from '../support/test-transport.js';
import {
  childEnv,
  portOpen,
  processAlive,
  startWorkerProcess,
  workerEnvs,
  type WorkerProcess,
} from '../support/worker-process.js';
import { useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'worker-signals',
  clientId: 'worker-signals-test',
  topics: 0,
  pipelineTopics: false,
  services: () => [
    { name: 'billing', send: [], receive: ['orders-*'] },
    { name: 'audit', send: [], receive: ['test-audit-signals-*'] },
  ],
});
const { transport } = sc;

/** The bound: a clean stop (consumer leaves the group, HTTP server closes) on a loaded machine. */
const STOP_BOUND_MS = 20_000;

const started: WorkerProcess[] = [];

afterAll(() => {
  for (const w of started) w.cleanup();
});

describe('worker entry points and SIGTERM (real Kafka)', () => {
  it('npm run worker:dlq, then SIGTERM to npm: the worker exits and its port closes', async () => {
    const dlqTopic = freshTopic('dlq-signals');
    await createTopics(transport, [{ topic: dlqTopic, numPartitions: 1 }]);
    const directoryFile = join(sc.world.dir, 'directory.json');
    writeFileSync(directoryFile, JSON.stringify(sc.world.document()));
    const configFile = join(sc.world.dir, 'dlq-worker.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        directoryFile,
        authorityPublicKey: Buffer.from(sc.world.document().authority.publicKey, 'base64').toString(
          'hex',
        ),
        deadLetterTopic: dlqTopic,
        quarantineDb: join(sc.world.dir, 'quarantine.db'),
        httpPort: 0,
        logLevel: 'warn',
        consumerSessionTimeoutMs: 6000,
      }),
    );
    const w = startWorkerProcess('npm', ['run', '--silent', 'worker:dlq'], {
      name: 'sealpost-dlq-worker',
      env: childEnv({
        KAFKA_BROKERS: getEndpoints().kafkaBrokers.join(','),
        SEALPOST_CONFIG: configFile,
      }),
    });
    started.push(w);
    const { port, pid } = await w.ready;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    w.child.kill('SIGTERM');
    const stopped = Date.now();
    await waitFor(
      async () => !processAlive(pid) && !(await portOpen(port)),
      `worker pid ${pid} gone and port ${port} closed after SIGTERM to npm`,
      STOP_BOUND_MS,
    );
    expect(Date.now() - stopped).toBeLessThan(STOP_BOUND_MS);
    // npm itself ends too, with the worker's clean exit status.
    expect(await w.exit).toBe(0);
  });

  it('npm run worker:audit, then SIGTERM to npm: the worker exits 0 and its port closes', async () => {
    const t = pipelineTopics('audit-signals');
    const checkpoints = freshTopic('audit-signals-cp');
    await createTopics(transport, [
      { topic: t.metadata },
      { topic: t.dlq },
      { topic: t.state, compacted: true },
      { topic: checkpoints, configs: { 'retention.ms': '-1' } },
    ]);
    const e = getEndpoints();
    const envs = await workerEnvs(
      sc.world,
      { ...t, checkpoints },
      e.kafkaBrokers,
      e.schemaRegistryUrl,
    );
    const w = startWorkerProcess('npm', ['run', '--silent', 'worker:audit'], {
      name: 'sealpost-audit-worker',
      env: childEnv(envs.audit),
    });
    started.push(w);
    const { port, pid } = await w.ready;
    expect(pid).not.toBe(w.child.pid);
    w.child.kill('SIGTERM');
    await waitFor(
      async () => !processAlive(pid) && !(await portOpen(port)),
      `audit worker pid ${pid} gone and port ${port} closed after SIGTERM to npm`,
      STOP_BOUND_MS,
    );
    expect(await w.exit, `${w.out()}\n${w.err()}`).toBe(0);
  });

  it('SIGTERM the moment the ready line appears: a clean stop (exit 0), never death by the signal', async () => {
    const t = pipelineTopics('audit-signals');
    const checkpoints = freshTopic('audit-signals-cp');
    await createTopics(transport, [
      { topic: t.metadata },
      { topic: t.dlq },
      { topic: t.state, compacted: true },
      { topic: checkpoints, configs: { 'retention.ms': '-1' } },
    ]);
    const e = getEndpoints();
    const envs = await workerEnvs(
      sc.world,
      { ...t, checkpoints },
      e.kafkaBrokers,
      e.schemaRegistryUrl,
    );
    // A supervisor reading the ready line may signal at once; before the fix about half of these
    // rounds ended by SIGTERM's default action (the handler was installed after the ready line).
    const outcomes: string[] = [];
    for (let round = 0; round < 5; round++) {
      const w = startWorkerProcess('node', ['--import', 'tsx', 'workers/audit/main.ts'], {
        name: 'sealpost-audit-worker',
        env: childEnv(envs.audit),
      });
      started.push(w);
      await w.ready;
      w.child.kill('SIGTERM');
      outcomes.push(
        await new Promise<string>((r) =>
          w.child.once('exit', (code, signal) => r(`exit=${code} signal=${signal}`)),
        ),
      );
    }
    expect(outcomes).toEqual(Array.from({ length: 5 }, () => 'exit=0 signal=null'));
  });
});
