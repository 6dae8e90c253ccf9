/**
 * docs/OPERATIONS.md's worker procedures run as written (commands read from the guide by
 * test/support/operations-guide.ts), against the stack:
 * - `worker-start-stop`: the config check passes for the role, `npm run worker:dlq` gets ready,
 *   `/healthz` answers 200, and `kill -TERM` on npm's pid stops the worker (its process gone, its port
 *   closed, npm exits 0) — nothing keeps answering health checks;
 * - `alerts`: on both running workers, `/healthz` succeeds and the `/metrics` lines carry every metric
 *   of the guide's alert table.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import {
  GUIDE_PATH,
  alertTableMetrics,
  guideProcedure,
  runGuideCommand,
  startGuideCommand,
} from '../support/operations-guide.js';
import { waitFor } from '../support/test-transport.js';
import {
  portOpen,
  processAlive,
  startWorkerProcess,
  childEnv,
  workerEnvs,
  type WorkerProcess,
} from '../support/worker-process.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'guide-workers',
  topics: 0,
  metadataTopic: true,
  checkpointTopic: 'retained',
  services: metadataToAudit,
});
const { t, checkpoints } = sc;

let envs: { audit: Record<string, string>; dlq: Record<string, string> };
const started: WorkerProcess[] = [];

beforeAll(async () => {
  const e = getEndpoints();
  envs = await workerEnvs(sc.world, { ...t, checkpoints }, e.kafkaBrokers, e.schemaRegistryUrl);
});
afterAll(() => {
  for (const w of started) w.cleanup();
});

describe('docs/OPERATIONS.md worker procedures, as written', () => {
  it('worker-start-stop', async () => {
    const [check, start, health, stop, ...rest] = guideProcedure('worker-start-stop');
    expect(rest).toEqual([]);
    const env = envs.dlq;

    const checked = await runGuideCommand(check!, { env });
    expect(checked.code, checked.err).toBe(0);
    expect(checked.out).toContain('configuration is valid for dlq-worker');

    const worker = startGuideCommand(start!, { env, name: 'sealpost-dlq-worker' });
    started.push(worker);
    const { port, pid } = await worker.ready;
    expect(pid).not.toBe(worker.child.pid); // npm holds the worker as a child: the hard case

    const healthy = await runGuideCommand(health!, { env, vars: { port: String(port) } });
    expect(healthy.code, healthy.err).toBe(0);
    expect(JSON.parse(healthy.out)).toMatchObject({ ok: true });

    const stopped = await runGuideCommand(stop!, { env, vars: { pid: String(worker.child.pid) } });
    expect(stopped.code, stopped.err).toBe(0);
    await waitFor(
      async () => !processAlive(pid) && !(await portOpen(port)),
      'the worker gone and its port closed',
      20_000,
    );
    expect(await worker.exit).toBe(0);
  });

  it('alerts', async () => {
    const [health, metrics, ...rest] = guideProcedure('alerts');
    expect(rest).toEqual([]);
    const workers = [
      startWorkerProcess('node', ['--import', 'tsx', 'workers/audit/main.ts'], {
        name: 'sealpost-audit-worker',
        env: childEnv(envs.audit),
      }),
      startWorkerProcess('node', ['--import', 'tsx', 'workers/dlq/main.ts'], {
        name: 'sealpost-dlq-worker',
        env: childEnv(envs.dlq),
      }),
    ];
    started.push(...workers);
    let served = '';
    for (const w of workers) {
      const port = String((await w.ready).port);
      await waitFor(
        async () => (await runGuideCommand(health!, { env: {}, vars: { port } })).code === 0,
        'healthz 200',
      );
      const m = await runGuideCommand(metrics!, { env: {}, vars: { port } });
      expect(m.code, m.err).toBe(0);
      expect(m.out.split('\n').every((l) => l === '' || l.startsWith('sealpost_'))).toBe(true);
      served += m.out;
    }
    // Every metric the table alerts on is served: its series (or, for a labelled counter that has
    // not counted yet, nothing — checked with labels by worker-metrics-table.test.ts).
    const table = alertTableMetrics(readFileSync(GUIDE_PATH, 'utf8'));
    const unlabelled = table.filter((x) => x.labels === undefined).map((x) => x.name);
    const missing = unlabelled.filter(
      (n) => !new RegExp(`^${n}(_bucket|_count|_sum)?[ {]`, 'm').test(served),
    );
    expect(missing).toEqual([]);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) expect(await w.exit).toBe(0);
  });
});
