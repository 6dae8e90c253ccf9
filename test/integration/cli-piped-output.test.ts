import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { auditEvent } from '../support/audit-log-fixture.js';

/**
 * #21.6: the real `sealpost` entry point with standard output a pipe. Invariant: every stored row the
 * command selected reaches the reader — a pipe's buffer (64 KiB) filling up must not cut the output
 * when the command returns.
 */
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const TSX = join(import.meta.dirname, '../../node_modules/.bin/tsx');
const ROWS = 3_000;
let dir: string;
let db: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-pipe-'));
  db = join(dir, 'audit.db');
  const store = new SqliteAuditStore(db, await createCryptoProvider());
  await store.append(Array.from({ length: ROWS }, (_, n) => auditEvent(n)));
  await store.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI with stdout a pipe that is read slowly at first (so the pipe's buffer fills). */
function runPiped(args: string[]): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SEALPOST_AUDIT_DB: db },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // The reader starts only once the child's stdout is full (it pauses until the first chunk has
    // waited in the pipe), as a slow `| less` or `| ssh` would.
    child.stdout.pause();
    child.stdout.once('readable', () => child.stdout.resume());
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: Buffer.concat(chunks), err }));
  });
}

describe('CLI output through a pipe (#21.6)', () => {
  it('audit query --json prints every selected row, beyond 128 KiB', async () => {
    const r = await runPiped(['audit', 'query', '--limit', String(ROWS), '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.length).toBeGreaterThan(200_000);
    const rows = JSON.parse(r.out.toString('utf8')) as { index: number }[];
    expect(rows.map((e) => e.index)).toEqual(Array.from({ length: ROWS }, (_, i) => i));
  }, 120_000);

  it('audit query as a table prints the header and every selected row, beyond 64 KiB', async () => {
    const r = await runPiped(['audit', 'query', '--limit', String(ROWS)]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.length).toBeGreaterThan(200_000);
    const lines = r.out.toString('utf8').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INDEX\s+TIME/);
    expect(lines.slice(1).map((l) => Number(l.split(/\s+/)[0]))).toEqual(
      Array.from({ length: ROWS }, (_, i) => i),
    );
  }, 120_000);
});
