import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import { auditEvent } from '../support/audit-log-fixture.js';

/** The real `sealpost` entry point as a process: exit codes, stdin, and Ctrl-C on `audit tail --follow`. */
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');
const TSX = join(import.meta.dirname, '../../node_modules/.bin/tsx');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-cli-proc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Proc {
  code: Promise<number | null>;
  out: () => string;
  err: () => string;
  kill: (signal: NodeJS.Signals) => void;
  write: (data: Buffer | string) => void;
}

function sealpost(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(TSX, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    code: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    out: () => out,
    err: () => err,
    kill: (s) => child.kill(s),
    write: (d) => {
      child.stdin.end(d);
    },
  };
}

describe('sealpost as a process', () => {
  it('--help lists the groups and the exit codes; a bad option exits 2', async () => {
    const help = sealpost(['--help']);
    help.write('');
    expect(await help.code).toBe(0);
    for (const g of ['keys', 'directory', 'inspect', 'quarantine', 'audit', 'config'])
      expect(help.out()).toContain(g);
    expect(help.out()).toContain('Exit codes:');
    const bad = sealpost(['quarantine', 'list', '--reason', 'nope']);
    bad.write('');
    expect(await bad.code).toBe(2);
  }, 60_000);

  it('inspect --file - reads standard input; garbage exits 1', async () => {
    const p = sealpost(['inspect', '--file', '-']);
    p.write(Buffer.from('definitely not an envelope'));
    expect(await p.code).toBe(1);
    expect(p.err()).toContain('not a sealpost envelope');
  }, 60_000);

  it('audit tail --follow prints new events and stops on SIGINT with exit 0', async () => {
    const db = join(dir, 'audit.db');
    const crypto = await createCryptoProvider();
    const store = new SqliteAuditStore(db, crypto);
    await store.append([auditEvent(1)]);
    const p = sealpost(['audit', 'tail', '--follow', '--interval', '100ms', '--json'], {
      SEALPOST_AUDIT_DB: db,
    });
    const deadline = Date.now() + 30_000;
    while (
      !p.out().includes('"index": 0') &&
      !p.out().includes('"index":0') &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 100));
    await store.append([auditEvent(2)]);
    while (p.out().trim().split('\n').length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    p.kill('SIGINT');
    expect(await p.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    await store.close();
    expect(
      p
        .out()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { index: number }).index),
    ).toEqual([0, 1]);
  }, 60_000);
});
