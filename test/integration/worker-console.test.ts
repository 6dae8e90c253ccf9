/**
 * The dead-letter worker serving the console on its HTTP port (SEALPOST_WORKER_CONSOLE=on;
 * docs/CONSOLE.md), as a real process on the stack: /console answers only an authenticated caller
 * and shows the worker's own quarantine and metrics, /healthz and /metrics stay as they were, and
 * the worker still stops cleanly on SIGTERM. Without a callers file the worker refuses to start,
 * naming the variable.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../support/http-call.js';
import { getEndpoints } from '../support/endpoints.js';
import { useScenario } from '../support/scenario.js';
import {
  childEnv,
  startWorkerProcess,
  workerEnvs,
  type WorkerProcess,
} from '../support/worker-process.js';

const TOKEN = 'worker-console-viewer-token-5d2c9e71a0b84f36';
const sc = useScenario({ purpose: 'worker-console', topics: 0, metadataTopic: true });
const started: WorkerProcess[] = [];
let env: Record<string, string>;

beforeAll(async () => {
  const e = getEndpoints();
  const envs = await workerEnvs(
    sc.world,
    { ...sc.t, checkpoints: sc.checkpoints },
    e.kafkaBrokers,
    e.schemaRegistryUrl,
  );
  const tokensFile = join(sc.world.dir, 'console-tokens.json');
  writeFileSync(tokensFile, JSON.stringify([{ name: 'vera', role: 'viewer', token: TOKEN }]), {
    mode: 0o600,
  });
  env = { ...envs.dlq, SEALPOST_WORKER_CONSOLE: 'on', SEALPOST_CONSOLE_TOKENS_FILE: tokensFile };
});
afterAll(() => {
  for (const w of started) w.cleanup();
});

describe('the console on the dead-letter worker (real process, real stack)', () => {
  it('serves /console to an authenticated caller beside /healthz and /metrics; stops on SIGTERM', async () => {
    const w = startWorkerProcess(process.execPath, ['--import', 'tsx', 'workers/dlq/main.ts'], {
      name: 'sealpost-dlq-worker',
      env: childEnv(env),
    });
    started.push(w);
    const { port } = await w.ready;
    const url = `http://127.0.0.1:${port}`;
    expect((await call(url, 'GET', '/healthz')).status).toBe(200);
    expect((await call(url, 'GET', '/console/quarantine')).status).toBe(401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const list = await call(url, 'GET', '/console/quarantine', { headers: auth });
    expect(list.status).toBe(200);
    expect(list.body).toContain('vera (viewer)');
    const health = await call(url, 'GET', '/console/health', { headers: auth });
    // The worker's own gauges, read from its registry (one series per reason, 0 when empty).
    const squeezed = health.body.replace(/>\s+/g, '>').replace(/\s+</g, '<');
    expect(squeezed).toContain('{reason=&quot;HEADER&quot;}</td><td class="num ">0</td>');
    w.child.kill('SIGTERM');
    expect(await w.exit).toBe(0);
  });

  it('refuses to start without the callers file, naming it', async () => {
    const { SEALPOST_CONSOLE_TOKENS_FILE: _, ...without } = env;
    const w = startWorkerProcess(process.execPath, ['--import', 'tsx', 'workers/dlq/main.ts'], {
      name: 'sealpost-dlq-worker',
      env: childEnv(without),
    });
    started.push(w);
    expect(await w.exit).toBe(1);
    expect(w.err()).toContain('SEALPOST_CONSOLE_TOKENS_FILE');
  });
});
