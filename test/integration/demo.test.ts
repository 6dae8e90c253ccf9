/**
 * `sealpost demo` end to end on the real stack, twice in a row (OpenBao Transit, then the local key
 * file): both runs complete with every order opened by both consumers, the tampered and the replayed
 * record quarantined, and the audit log verified.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { registerDemoCommand } from '../../src/cli/demo-command.js';
import type { CliIo } from '../../src/cli/output.js';
import { createProgram, runProgram } from '../../src/cli/program.js';
import { getEndpoints } from '../support/endpoints.js';

const dir = mkdtempSync(join(tmpdir(), 'sealpost-demo-it-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function demo(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const e = getEndpoints();
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    env: {
      KAFKA_BROKERS: e.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
      VAULT_ADDR: e.vaultAddr,
      VAULT_TOKEN: e.vaultToken,
      SEALPOST_LOG_LEVEL: 'silent',
    },
    cwd: dir,
  };
  const code = await runProgram(createProgram(io, [registerDemoCommand]), ['demo', ...args], io);
  return { code, out, err };
}

describe('sealpost demo (real stack)', () => {
  it('completes twice: with OpenBao Transit, then with the local key file', async () => {
    const vault = await demo(['--json']);
    expect(vault.err).toBe('');
    expect(vault.code).toBe(0);
    const s = JSON.parse(vault.out) as {
      ok: boolean;
      kms: string;
      sealed: number;
      opened: Record<string, number>;
      quarantinedByReason: Record<string, number>;
      audit: { ok: boolean; entries: number; checkpoints: number };
      kmsCalls: number;
    };
    expect(s).toMatchObject({
      ok: true,
      kms: 'vault',
      sealed: 4000,
      opened: { billing: 4000, shipping: 4000 },
    });
    // the tampered record fails its tag for both groups; the replay is far behind the window
    expect(s.quarantinedByReason).toEqual({ MESSAGE: 2, STALE: 2 });
    expect(s.audit.ok).toBe(true);
    expect(s.audit.entries).toBeGreaterThanOrEqual(3 * 4000);
    expect(s.audit.checkpoints).toBeGreaterThanOrEqual(12);
    expect(s.kmsCalls).toBeLessThan(40); // start-up only: never per message

    const local = await demo(['--kms', 'local']);
    expect(local.code).toBe(0);
    expect(local.out).toContain('demo: OK');
    expect(local.out).toContain('opened by billing   4000');
    expect(local.out).toMatch(/quarantined\s+MESSAGE 2, STALE 2/);
  });

  it('has help with an example and refuses bad input with exit 2', async () => {
    const help = await demo(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Example:');
    const bad = await demo(['--kms', 'hsm']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--kms must be vault or local');
    const badN = await demo(['--orders', 'many']);
    expect(badN.code).toBe(2);
  });
});
