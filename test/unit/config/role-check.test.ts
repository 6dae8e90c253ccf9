/**
 * #21.8: `config check --role` and the workers' start-up check report every missing or unsafe
 * setting for a role at once: required settings, files that do not exist, secrets others can read,
 * an identity file that is not valid. Real files in a temp directory.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerConfigCommands } from '../../../src/cli/config-commands.js';
import type { CliIo } from '../../../src/cli/output.js';
import { createProgram, runProgram } from '../../../src/cli/program.js';
import { ROLES, checkConfig } from '../../../src/config/role-check.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sealpost-role-check-'));
  dirs.push(d);
  return d;
};
const AUTHORITY = 'ab'.repeat(32);
const TOKEN = 'hvs.do-not-print-this-token';

function write(dir: string, name: string, content: string, mode: number): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

function run(argv: string[], env: Record<string, string>, cwd: string) {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), env, cwd };
  const program = createProgram(io, [registerConfigCommands]);
  return runProgram(program, argv, io).then((code) => ({ code, out, err }));
}

describe('checkConfig by role', () => {
  it('an empty environment: every role gets the full list of what it needs at once', () => {
    const cwd = tmp();
    const expected: Record<(typeof ROLES)[number], string[]> = {
      producer: [
        'KAFKA_BROKERS',
        'SEALPOST_AUTHORITY_PUBLIC_KEY',
        'SEALPOST_IDENTITY_FILE',
        'SCHEMA_REGISTRY_URL',
        'SEALPOST_LOCAL_KEK_FILE',
      ],
      consumer: [
        'KAFKA_BROKERS',
        'SEALPOST_AUTHORITY_PUBLIC_KEY',
        'SEALPOST_IDENTITY_FILE',
        'SCHEMA_REGISTRY_URL',
        'SEALPOST_LOCAL_KEK_FILE',
      ],
      'audit-worker': [
        'KAFKA_BROKERS',
        'SEALPOST_AUTHORITY_PUBLIC_KEY',
        'SEALPOST_IDENTITY_FILE',
        'SCHEMA_REGISTRY_URL',
        'SEALPOST_LOCAL_KEK_FILE',
      ],
      'dlq-worker': ['KAFKA_BROKERS', 'SEALPOST_AUTHORITY_PUBLIC_KEY'],
    };
    for (const role of ROLES) {
      const r = checkConfig({}, role, { cwd });
      expect(r.config).toBeUndefined();
      expect(r.problems.map((p) => p.split(':')[0]).sort()).toEqual([...expected[role]].sort());
    }
  });

  it('vault: address and credentials required; a world-readable token file is refused', () => {
    const cwd = tmp();
    const token = write(cwd, 'token', TOKEN, 0o644);
    const r = checkConfig({ SEALPOST_KMS: 'vault', VAULT_TOKEN_FILE: token }, 'consumer', { cwd });
    const joined = r.problems.join('\n');
    expect(joined).toContain('VAULT_ADDR');
    expect(joined).toMatch(
      /VAULT_TOKEN_FILE: .*token is readable or writable by group or others \(mode 0644\): chmod 600 it/,
    );
    expect(joined).not.toContain(TOKEN);
    const none = checkConfig({ SEALPOST_KMS: 'vault' }, 'audit-worker', { cwd });
    expect(none.problems.join('\n')).toContain('VAULT_TOKEN_FILE: set VAULT_TOKEN_FILE');
  });

  it('files: missing identity file, identity file that is not valid, missing TLS key', () => {
    const cwd = tmp();
    const base = {
      KAFKA_BROKERS: '127.0.0.1:9092',
      SEALPOST_AUTHORITY_PUBLIC_KEY: AUTHORITY,
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      SEALPOST_LOCAL_KEK_FILE: write(cwd, 'kek.json', '{}', 0o600),
    };
    const missing = checkConfig({ ...base, SEALPOST_IDENTITY_FILE: 'nope.json' }, 'producer', {
      cwd,
    });
    expect(missing.problems).toEqual(['SEALPOST_IDENTITY_FILE: nope.json does not exist']);

    write(cwd, 'garbage.json', 'not json', 0o600);
    expect(
      checkConfig({ ...base, SEALPOST_IDENTITY_FILE: 'garbage.json' }, 'consumer', { cwd })
        .problems,
    ).toEqual(['SEALPOST_IDENTITY_FILE: garbage.json is not valid JSON']);

    write(cwd, 'wrong.json', '{"v":9}', 0o600);
    const invalid = checkConfig({ ...base, SEALPOST_IDENTITY_FILE: 'wrong.json' }, 'consumer', {
      cwd,
      validateIdentityFile: () => {
        throw new Error('identity file is not valid (at: v)');
      },
    });
    expect(invalid.problems).toEqual([
      'SEALPOST_IDENTITY_FILE: wrong.json is not valid: identity file is not valid (at: v)',
    ]);

    write(cwd, 'open.json', '{}', 0o644);
    expect(
      checkConfig({ ...base, SEALPOST_IDENTITY_FILE: 'open.json' }, 'consumer', { cwd })
        .problems[0],
    ).toMatch(/^SEALPOST_IDENTITY_FILE: open.json is readable or writable by group or others/);

    const tls = checkConfig(
      {
        ...base,
        SEALPOST_IDENTITY_FILE: write(cwd, 'id.json', '{}', 0o600),
        SEALPOST_KAFKA_TLS: 'true',
        KAFKA_SSL_CA_FILE: write(cwd, 'ca.crt', 'x', 0o644),
        KAFKA_SSL_CERT_FILE: write(cwd, 'c.crt', 'x', 0o644),
        KAFKA_SSL_KEY_FILE: write(cwd, 'c.key', 'x', 0o640),
      },
      'producer',
      { cwd },
    );
    expect(tls.problems).toHaveLength(1);
    expect(tls.problems[0]).toMatch(/^KAFKA_SSL_KEY_FILE: .*c\.key is readable/);
  });

  it('a complete dlq-worker configuration passes and returns the config', () => {
    const cwd = tmp();
    const r = checkConfig(
      {
        KAFKA_BROKERS: '127.0.0.1:9092',
        SEALPOST_AUTHORITY_PUBLIC_KEY: AUTHORITY,
        SEALPOST_DIRECTORY_FILE: write(cwd, 'dir.json', '{}', 0o644),
      },
      'dlq-worker',
      { cwd },
    );
    expect(r.problems).toEqual([]);
    expect(r.config?.kafkaBrokers).toEqual(['127.0.0.1:9092']);
  });

  it('syntax problems and role problems are listed together, each variable once', () => {
    const r = checkConfig({ KAFKA_BROKERS: 'nohost', SEALPOST_HTTP_PORT: '99999' }, 'consumer', {
      cwd: tmp(),
    });
    const names = r.problems.map((p) => p.split(':')[0]);
    expect(new Set(names).size).toBe(names.length);
    for (const n of ['KAFKA_BROKERS', 'SEALPOST_HTTP_PORT', 'SEALPOST_IDENTITY_FILE'])
      expect(names).toContain(n);
  });
});

describe('sealpost config check', () => {
  it('--role on an empty environment exits 2 listing every missing setting', async () => {
    const cwd = tmp();
    const r = await run(['config', 'check', '--role', 'audit-worker'], {}, cwd);
    expect(r.code).toBe(2);
    for (const n of [
      'KAFKA_BROKERS',
      'SEALPOST_AUTHORITY_PUBLIC_KEY',
      'SEALPOST_IDENTITY_FILE',
      'SCHEMA_REGISTRY_URL',
    ])
      expect(r.err).toContain(n);
    const json = await run(['config', 'check', '--role', 'dlq-worker', '--json'], {}, cwd);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.out)).toMatchObject({ ok: false, role: 'dlq-worker' });
  });

  it('without a role: an empty environment is not called valid; an unsafe token file fails', async () => {
    const cwd = tmp();
    const empty = await run(['config', 'check'], {}, cwd);
    expect(empty.code).toBe(0);
    expect(empty.out).not.toContain('configuration is valid');
    expect(empty.out).toContain('--role');
    const token = write(cwd, 'token', TOKEN, 0o604);
    const r = await run(
      ['config', 'check'],
      { SEALPOST_KMS: 'vault', VAULT_ADDR: 'http://127.0.0.1:8200', VAULT_TOKEN_FILE: token },
      cwd,
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('VAULT_TOKEN_FILE');
    expect(r.err + r.out).not.toContain(TOKEN);
  });
  it('a "__proto__" key in the config file is refused as unknown, never inherited; prototype-named variables are ignored', () => {
    const cwd = tmp();
    const env = {
      KAFKA_BROKERS: '127.0.0.1:9092',
      SEALPOST_AUTHORITY_PUBLIC_KEY: AUTHORITY,
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      SEALPOST_LOCAL_KEK_FILE: write(cwd, 'kek.json', '{}', 0o600),
      SEALPOST_IDENTITY_FILE: write(cwd, 'id.json', '{}', 0o600),
      SEALPOST_CONFIG: write(
        cwd,
        'config.json',
        '{"__proto__": {"identityFile": "inherited.json", "vaultTokenFile": "t"}}',
        0o600,
      ),
      constructor: 'x',
      toString: 'y',
      hasOwnProperty: 'z',
    };
    const r = checkConfig(env, 'producer', { cwd, validateIdentityFile: () => {} });
    // The key is refused as unknown; nothing under it is inherited (before: a phantom
    // VAULT_TOKEN_FILE problem from the prototype's "vaultTokenFile").
    expect(r.problems).toEqual(['config file: unknown keys __proto__']);
  });
});
