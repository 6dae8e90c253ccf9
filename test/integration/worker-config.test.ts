/**
 * #21.8: each worker started with an empty environment exits 2 with the whole report for its role
 * (the same list as `sealpost config check --role`), not a stack trace about the first missing
 * variable; and a world-readable token file or a missing identity file stops it before it connects.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childEnv, startWorkerProcess, type WorkerProcess } from '../support/worker-process.js';

const started: WorkerProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'sealpost-worker-config-'));
afterAll(() => {
  for (const w of started) w.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function runWorker(
  worker: 'dlq' | 'audit',
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  const w = startWorkerProcess('node', ['--import', 'tsx', `workers/${worker}/main.ts`], {
    name: `sealpost-${worker}-worker`,
    env: childEnv(env),
  });
  started.push(w);
  const code = await w.exit;
  return { code, out: w.out(), err: w.err() };
}

const STACK_FRAME = /^\s+at /m;

describe('workers refuse a bad configuration with the whole report', () => {
  it('dlq worker, empty environment: exit 2 listing every missing setting', async () => {
    const r = await runWorker('dlq', {});
    expect(r.code).toBe(2);
    expect(r.err).toContain('sealpost-dlq-worker: invalid configuration for dlq-worker');
    for (const n of ['KAFKA_BROKERS', 'SEALPOST_AUTHORITY_PUBLIC_KEY']) expect(r.err).toContain(n);
    expect(r.err).not.toMatch(STACK_FRAME);
    expect(r.out).not.toContain('ready');
  });

  it('audit worker, empty environment: exit 2 listing every missing setting', async () => {
    const r = await runWorker('audit', {});
    expect(r.code).toBe(2);
    expect(r.err).toContain('sealpost-audit-worker: invalid configuration for audit-worker');
    for (const n of [
      'KAFKA_BROKERS',
      'SEALPOST_AUTHORITY_PUBLIC_KEY',
      'SEALPOST_IDENTITY_FILE',
      'SCHEMA_REGISTRY_URL',
      'SEALPOST_LOCAL_KEK_FILE',
    ])
      expect(r.err).toContain(n);
    expect(r.err).not.toMatch(STACK_FRAME);
  });

  it('audit worker: a world-readable token file and a missing identity file are both named', async () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'hvs.never-printed');
    chmodSync(token, 0o644);
    const r = await runWorker('audit', {
      KAFKA_BROKERS: '127.0.0.1:1',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1',
      SEALPOST_AUTHORITY_PUBLIC_KEY: 'ab'.repeat(32),
      SEALPOST_KMS: 'vault',
      VAULT_ADDR: 'http://127.0.0.1:1',
      VAULT_TOKEN_FILE: token,
      SEALPOST_IDENTITY_FILE: join(dir, 'audit.identity.json'),
    });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/VAULT_TOKEN_FILE: .* chmod 600 it/);
    expect(r.err).toMatch(/SEALPOST_IDENTITY_FILE: .*audit\.identity\.json does not exist/);
    expect(r.err).not.toContain('hvs.never-printed');
    expect(r.err).not.toMatch(STACK_FRAME);
  });
});
