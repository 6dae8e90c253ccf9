/**
 * #21.7: every metric docs/OPERATIONS.md's "Metrics to alert on" table tells operators to alert on is
 * served by the workers' `/metrics`, with exactly the labels the table names. The table is read from
 * the doc (so the doc and the code cannot drift apart); both workers run as real processes
 * (workers/*\/main.ts) on the stack. A junk record on the metadata topic gives the audit worker a
 * rejection and a dead letter, which the dead-letter worker quarantines — so the labelled counters
 * have samples whose label names can be compared. Metrics whose samples need an outage, a flood or a
 * replay (NO_SAMPLE_WITHOUT_FAULT) are checked for presence and type only: a labelled series without
 * samples shows no label names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getEndpoints } from '../support/endpoints.js';
import { alertTableMetrics } from '../support/operations-guide.js';
import { waitFor } from '../support/test-transport.js';
import {
  REPO_ROOT,
  childEnv,
  startWorkerProcess,
  workerEnvs,
  type WorkerProcess,
} from '../support/worker-process.js';
import { metadataToAudit, useScenario } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'metrics-table',
  topics: 0,
  metadataTopic: true,
  checkpointTopic: 'retained',
  services: metadataToAudit,
});
const { t, transport, checkpoints } = sc;

/** Labelled metrics that have no sample unless an outage or a flood happens (see above). */
const NO_SAMPLE_WITHOUT_FAULT = new Set([
  'sealpost_transient_retries_total',
  'sealpost_dead_letter_breaker_open',
  'sealpost_dead_letter_throttled_total',
  'sealpost_admission_throttled_total',
  'sealpost_duplicates_total',
  'sealpost_consumer_alerts_total',
]);

const started: WorkerProcess[] = [];

afterAll(() => {
  for (const w of started) w.cleanup();
});

describe("the guide's alert table against the workers' /metrics", () => {
  it('parses the table', () => {
    const metrics = alertTableMetrics(readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8'));
    expect(metrics.map((m) => m.name)).toContain('sealpost_rejected_total');
    expect(metrics.length).toBeGreaterThanOrEqual(14);
  });

  it('every metric of the table is served, with the labels the table names', async () => {
    const table = alertTableMetrics(readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8'));
    const e = getEndpoints();
    const envs = await workerEnvs(
      sc.world,
      { ...t, checkpoints },
      e.kafkaBrokers,
      e.schemaRegistryUrl,
    );
    const audit = startWorkerProcess('node', ['--import', 'tsx', 'workers/audit/main.ts'], {
      name: 'sealpost-audit-worker',
      env: childEnv(envs.audit),
    });
    const dlq = startWorkerProcess('node', ['--import', 'tsx', 'workers/dlq/main.ts'], {
      name: 'sealpost-dlq-worker',
      env: childEnv(envs.dlq),
    });
    started.push(audit, dlq);
    const ports = [(await audit.ready).port, (await dlq.ready).port];
    const producer = transport.producer();
    await producer.connect();
    await producer.send({
      topic: t.metadata,
      partition: 0,
      records: [{ key: null, value: Buffer.from('not a sealpost envelope') }],
    });
    await producer.disconnect();
    const scrape = async (): Promise<string> =>
      (
        await Promise.all(
          ports.map(async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text()),
        )
      ).join('\n');
    await waitFor(
      async () => {
        const now = await scrape();
        return /^sealpost_quarantine_entries\{reason="MALFORMED"\} 1$/m.test(now);
      },
      'the junk record rejected by the audit worker and quarantined by the dead-letter worker',
      90_000,
    );
    const text = await scrape();

    const problems: string[] = [];
    for (const { name, labels } of table) {
      if (!new RegExp(`^# TYPE ${name} `, 'm').test(text)) {
        problems.push(`${name}: not served by either worker`);
        continue;
      }
      const samples = [
        ...text.matchAll(
          new RegExp(`^${name}(?:_bucket|_sum|_count)?(?:\\{([^}]*)\\})? \\S+$`, 'gm'),
        ),
      ].map((m) =>
        (m[1] ?? '')
          .split(',')
          .filter((kv) => kv.length > 0)
          .map((kv) => kv.split('=')[0]!)
          .filter((l) => l !== 'le')
          .sort()
          .join(','),
      );
      const want = [...(labels ?? [])].sort().join(',');
      if (samples.length === 0) {
        if (!NO_SAMPLE_WITHOUT_FAULT.has(name)) problems.push(`${name}: no sample`);
        continue;
      }
      const wrong = [...new Set(samples.filter((s) => s !== want))];
      if (wrong.length > 0)
        problems.push(`${name}: labels {${wrong.join('} {')}} where the guide says {${want}}`);
    }
    expect(problems).toEqual([]);
  });
});
