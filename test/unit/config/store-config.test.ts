/** The store selection in the config (docs/STORES.md): SEALPOST_STORE, the PostgreSQL URL, password file and schema. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { checkConfig } from '../../../src/config/role-check.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const PASSWORD = 'pg-password-do-not-print';

describe('store configuration', () => {
  it('defaults to SQLite files; postgres needs a postgres:// URL; the schema name is checked', () => {
    expect(parseConfig({}).config).toMatchObject({ store: 'sqlite', postgresSchema: 'public' });
    expect(parseConfig({ SEALPOST_STORE: 'postgres' }).problems).toEqual([
      'SEALPOST_POSTGRES_URL: SEALPOST_POSTGRES_URL is required with SEALPOST_STORE=postgres',
    ]);
    expect(
      parseConfig({
        SEALPOST_STORE: 'postgres',
        SEALPOST_POSTGRES_URL: 'postgres://sealpost@db.internal:5432/sealpost',
        SEALPOST_POSTGRES_SCHEMA: 'audit_eu',
      }).config,
    ).toMatchObject({ store: 'postgres', postgresSchema: 'audit_eu' });
    const bad = parseConfig({
      SEALPOST_STORE: 'mysql',
      SEALPOST_POSTGRES_URL: 'http://db',
      SEALPOST_POSTGRES_SCHEMA: 'Robert"); DROP',
    }).problems.join('\n');
    expect(bad).toContain('SEALPOST_STORE');
    expect(bad).toContain('SEALPOST_POSTGRES_URL: must be a postgres:// or postgresql:// URL');
    expect(bad).toContain('SEALPOST_POSTGRES_SCHEMA');
  });

  it('a password file others can read is refused, without printing the password', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sealpost-store-config-'));
    dirs.push(cwd);
    const file = join(cwd, 'pg-password');
    writeFileSync(file, PASSWORD);
    chmodSync(file, 0o644);
    const env = {
      SEALPOST_STORE: 'postgres',
      SEALPOST_POSTGRES_URL: 'postgres://sealpost@127.0.0.1:5432/postgres',
      SEALPOST_POSTGRES_PASSWORD_FILE: file,
    };
    const r = checkConfig(env, undefined, { cwd });
    const joined = r.problems.join('\n');
    expect(joined).toMatch(/SEALPOST_POSTGRES_PASSWORD_FILE: .*pg-password .*chmod 600 it/);
    expect(joined).not.toContain(PASSWORD);
    chmodSync(file, 0o600);
    expect(checkConfig(env, undefined, { cwd }).problems).toEqual([]);
  });
});
