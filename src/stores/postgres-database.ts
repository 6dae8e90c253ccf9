/**
 * The one module that imports node-postgres (`pg`, an optional peer dependency: it is loaded only when
 * a PostgreSQL store is configured). A pool, transactions that retry on a deadlock or serialization
 * failure, and the versioned migrations of the stores (docs/STORES.md). Nothing here logs; errors
 * never carry the connection URL (it may hold a password).
 */
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { SealpostError, type ErrorCodeTable } from '../errors.js';

export const POSTGRES_STORE_ERROR_CODES = {
  /** The server cannot be reached, refused the login, or a statement failed on the way. */
  STORE_UNAVAILABLE: 'yes',
  /** The database holds a newer schema than this version of sealpost knows. */
  STORE_SCHEMA_NEWER: 'no',
  /** A bad URL or schema name, or `pg` is not installed. */
  STORE_CONFIG_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type PostgresStoreErrorCode = keyof typeof POSTGRES_STORE_ERROR_CODES;

export class PostgresStoreError extends SealpostError {
  declare readonly code: PostgresStoreErrorCode;
  constructor(code: PostgresStoreErrorCode, message: string, cause?: unknown) {
    super(code, message, {
      retriable: code === 'STORE_UNAVAILABLE',
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** One versioned step of a component's schema (applied once, in version order, in a transaction). */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export interface PostgresConnectOptions {
  /** `postgres://user[:password]@host:port/database[?sslmode=…]` */
  readonly url: string;
  /** Overrides the URL's password (read from a file by reference; see docs/STORES.md). */
  readonly password?: string;
  /** The schema the store's tables live in (created when missing). Default `public`. */
  readonly schema?: string;
  /** Pool size. Default 4. */
  readonly maxConnections?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** SQLSTATEs after which the whole transaction is simply run again. */
const RETRY_STATES = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;

/** `url` with any password replaced by `***` (for messages and `config check`). */
export function redactPostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  try {
    const u = new URL(url);
    u.password = encodeURIComponent(password);
    return u.toString();
  } catch {
    throw new PostgresStoreError('STORE_CONFIG_INVALID', 'the PostgreSQL URL cannot be parsed');
  }
}

/** A query runner: the pool, or the client of a transaction. */
export interface Queryable {
  query<R>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
}

/** A connection pool to one schema of one database. */
export class PostgresDatabase implements Queryable {
  readonly #pool: Pool;
  readonly schema: string;
  #closed = false;

  private constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.schema = schema;
  }

  /** Connects (and checks the server answers). */
  static async connect(options: PostgresConnectOptions): Promise<PostgresDatabase> {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) {
      throw new PostgresStoreError(
        'STORE_CONFIG_INVALID',
        `PostgreSQL schema name must match ${SCHEMA_NAME.source}`,
      );
    }
    if (!/^postgres(ql)?:\/\//.test(options.url)) {
      throw new PostgresStoreError(
        'STORE_CONFIG_INVALID',
        'the PostgreSQL URL must start with postgres:// or postgresql://',
      );
    }
    const pg = await loadPg();
    const config: PoolConfig = {
      // node-postgres lets the connection string's fields win over separate ones: a password read
      // from a file goes into the URL.
      connectionString: withPassword(options.url, options.password),
      max: options.maxConnections ?? 4,
      // Every connection works in the store's schema.
      options: `-c search_path=${schema}`,
    };
    const pool = new pg.Pool(config);
    // An idle client that loses its connection emits here; the next query gets a fresh one.
    pool.on('error', () => undefined);
    const db = new PostgresDatabase(pool, schema);
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return db;
  }

  async query<R>(
    sql: string,
    params: readonly unknown[] = [],
  ): Promise<{ rows: R[]; rowCount: number }> {
    try {
      const r = await this.#pool.query(sql, params as unknown[]);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    } catch (err) {
      throw storeError(err);
    }
  }

  /**
   * Runs `fn` in one transaction (READ COMMITTED) and commits; rolls back when it throws. A deadlock
   * or serialization failure runs the whole of `fn` again (up to 5 times).
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient;
      try {
        client = await this.#pool.connect();
      } catch (err) {
        throw storeError(err);
      }
      const tx: Queryable = {
        query: async <R>(sql: string, params: readonly unknown[] = []) => {
          const r = await client.query(sql, params as unknown[]);
          return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
        },
      };
      try {
        await client.query('BEGIN');
        const result = await fn(tx);
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release();
        if (attempt < MAX_ATTEMPTS && RETRY_STATES.has(sqlState(err) ?? '')) continue;
        throw err instanceof SealpostError ? err : storeError(err);
      }
    }
  }

  /**
   * Brings `component`'s tables to the newest of `migrations`: each version not yet recorded in
   * `schema_migrations` is applied in order, all in one transaction, under a lock so that workers
   * starting together migrate once. Refuses a database whose recorded version is newer than ours.
   */
  async migrate(component: string, migrations: readonly Migration[]): Promise<void> {
    const newest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    await this.transaction(async (tx) => {
      // One lock per schema for every component's migrations (released at commit), taken first:
      // CREATE SCHEMA IF NOT EXISTS itself fails on a unique key when two run side by side.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `sealpost-migrations:${this.schema}`,
      ]);
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await tx.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           component  TEXT NOT NULL,
           version    INTEGER NOT NULL,
           name       TEXT NOT NULL,
           applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
           PRIMARY KEY (component, version)
         )`,
      );
      const { rows } = await tx.query<{ v: number | null }>(
        'SELECT MAX(version) AS v FROM schema_migrations WHERE component = $1',
        [component],
      );
      const current = rows[0]?.v ?? 0;
      if (current > newest) {
        throw new PostgresStoreError(
          'STORE_SCHEMA_NEWER',
          `the ${component} tables in schema ${this.schema} are at version ${current}, newer than this sealpost knows (${newest}): upgrade sealpost`,
        );
      }
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (m.version <= current) continue;
        await tx.query(m.sql);
        await tx.query(
          'INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)',
          [component, m.version, m.name],
        );
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

/** node-postgres, loaded on first use (an optional peer dependency). */
async function loadPg() {
  try {
    return (await import('pg')).default;
  } catch (err) {
    throw new PostgresStoreError(
      'STORE_CONFIG_INVALID',
      'a PostgreSQL store needs the optional peer dependency `pg` (npm install pg)',
      err,
    );
  }
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** A driver or server error as a PostgresStoreError; its message names the SQLSTATE, not the URL. */
function storeError(err: unknown): SealpostError {
  if (err instanceof SealpostError) return err;
  const state = sqlState(err);
  return new PostgresStoreError(
    'STORE_UNAVAILABLE',
    `PostgreSQL store: ${state === undefined ? 'connection failed' : `statement failed (SQLSTATE ${state})`}`,
    err,
  );
}

/** A BIGINT column (node-postgres returns it as a string) as a number. */
export function int8(value: string | number | null): number {
  const n = Number(value);
  if (value === null || !Number.isSafeInteger(n))
    throw new PostgresStoreError('STORE_UNAVAILABLE', 'PostgreSQL returned a non-integer count');
  return n;
}
