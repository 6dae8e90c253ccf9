/**
 * The stack's persistent OpenBao mode (issue #15 item 1): a Transit key survives `restart openbao`.
 * Runs in a child process on a port offset of its own (test/support/openbao-persistence-probe.ts), so
 * the shared stack's OpenBao is never restarted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('OpenBao persistent mode', () => {
  it('keeps a Transit key across a restart (a probe sealed before opens after)', async () => {
    // An offset no other stack uses (20000 is the chaos cluster's): OpenBao on 30000–32000 + 8200.
    const offset = 30_000 + 2 * Math.floor(Math.random() * 1000);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'test/support/openbao-persistence-probe.ts'],
      { env: { ...process.env, SEALPOST_STACK_PORT_OFFSET: String(offset) }, timeout: 150_000 },
    );
    const result = JSON.parse(stdout.trim().split('\n').pop()!) as {
      restarted: boolean;
      survived: boolean;
    };
    expect(result).toEqual({ restarted: true, survived: true });
  }, 180_000);
});
