/** Builds a real audit log for CLI tests: keys and directory through the CLI, events and signed checkpoints through the audit store. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { signCheckpoint, type AuditCheckpoint } from '../../src/audit/audit-checkpoint.js';
import { SqliteAuditStore } from '../../src/audit/sqlite-audit-store.js';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { MetadataEvent } from '../../src/events/metadata-event.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { openIdentity } from '../../src/keys/operations.js';
import { systemClock } from '../../src/runtime/clock.js';
import { runCli } from './run-cli.js';

export interface AuditFixture {
  readonly env: Record<string, string>;
  readonly directoryFile: string;
  /** Appends `n` events and (optionally) a checkpoint after them; returns the checkpoints made. */
  grow(n: number, options?: { checkpoint?: boolean }): Promise<AuditCheckpoint[]>;
  /** A checkpoint of the current head, not stored (e.g. to publish). */
  checkpointNow(): Promise<AuditCheckpoint>;
}

export const T0 = 1_767_000_000_000;

export function auditEvent(n: number, extra: Partial<MetadataEvent> = {}): MetadataEvent {
  return {
    eventId: n.toString(16).padStart(32, '0'),
    type: n % 3 === 0 ? 'rejected' : 'opened',
    timeMs: T0 + n * 60_000,
    actor: 'billing',
    messageId: (n + 0x1000).toString(16).padStart(32, 'a'),
    sender: n % 2 === 0 ? 'orders' : 'payments',
    topic: n % 4 === 0 ? 'orders.v1' : 'payments.v1',
    partition: 0,
    offset: String(n),
    ...extra,
  };
}

/** Keys (authority + `audit`), a directory file, and an empty audit store in `dir`. */
export async function makeAuditFixture(dir: string): Promise<AuditFixture> {
  const env: Record<string, string> = {
    SEALPOST_KEYS_DIR: join(dir, 'keys'),
    SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    SEALPOST_AUDIT_DB: join(dir, 'audit.db'),
  };
  const directoryFile = join(dir, 'directory.json');
  const a = await runCli(['keys', 'init-authority', '--json'], env);
  if (a.code !== 0) throw new Error(a.err);
  env.SEALPOST_AUTHORITY_PUBLIC_KEY = (JSON.parse(a.out) as { publicKey: string }).publicKey;
  env.SEALPOST_DIRECTORY_FILE = directoryFile;
  for (const argv of [
    ['keys', 'create', 'audit'],
    ['directory', 'publish', '--grant', 'audit:receive=sealpost.metadata'],
  ]) {
    const r = await runCli(argv, env);
    if (r.code !== 0) throw new Error(r.err);
  }
  const crypto = await createCryptoProvider();
  let next = 0;
  const withSigner = async <T>(
    fn: (
      store: SqliteAuditStore,
      sign: (c: number, h: Uint8Array) => AuditCheckpoint,
    ) => Promise<T>,
  ): Promise<T> => {
    const kms = await LocalKms.open({
      path: env.SEALPOST_LOCAL_KEK_FILE!,
      crypto,
      clock: systemClock,
    });
    const id = await openIdentity({ path: join(dir, 'keys', 'audit.json'), kms, crypto });
    const store = new SqliteAuditStore(env.SEALPOST_AUDIT_DB!, crypto);
    try {
      const key = id.signingKey();
      return await fn(store, (count, headHash) =>
        signCheckpoint(crypto, count, headHash, T0 + count * 60_000 + 1, key.kid, key.secretKey),
      );
    } finally {
      await store.close();
      id.close();
      await kms.close();
    }
  };
  await new SqliteAuditStore(env.SEALPOST_AUDIT_DB!, crypto).close();
  return {
    env,
    directoryFile,
    grow: (n, options = {}) =>
      withSigner(async (store, sign) => {
        await store.append(Array.from({ length: n }, () => auditEvent(next++)));
        if (options.checkpoint === false) return [];
        const head = await store.head();
        const c = sign(head.count, head.headHash);
        await store.addCheckpoint(c);
        return [c];
      }),
    checkpointNow: () =>
      withSigner(async (store, sign) => {
        const head = await store.head();
        return sign(head.count, head.headHash);
      }),
  };
}

/** Edits one stored event's bytes behind the store's back (as an attacker with the file would). */
export function tamperEvent(dbPath: string, index: number): void {
  const db = new Database(dbPath);
  try {
    db.exec('DROP TRIGGER IF EXISTS entries_no_update');
    const row = db.prepare('SELECT event FROM entries WHERE idx = ?').get(index) as {
      event: Buffer;
    };
    const edited = Buffer.from(
      row.event.toString('utf8').replace('"actor":"billing"', '"actor":"billinG"'),
    );
    if (edited.equals(row.event)) throw new Error('tamper did not change the event');
    db.prepare('UPDATE entries SET event = ? WHERE idx = ?').run(edited, index);
  } finally {
    db.close();
  }
}
