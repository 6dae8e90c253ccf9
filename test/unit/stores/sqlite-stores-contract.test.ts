/** The store contract (test/contract/store-contract.ts) on the embedded SQLite stores (files in a temp dir). */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { sqliteAuditLogStores } from '../../../src/audit/audit-log-stores.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SqliteQuarantineStore } from '../../../src/dlq/sqlite-quarantine-store.js';
import { storeContract } from '../../contract/store-contract.js';

let crypto: CryptoProvider;
let dir: string;
let n = 0;
beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
  dir = mkdtempSync(join(tmpdir(), 'sealpost-store-contract-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storeContract({
  name: 'SQLite',
  crypto: () => crypto,
  auditStorage: () => {
    const path = join(dir, `audit-${++n}.db`);
    return Promise.resolve({ open: () => Promise.resolve(new SqliteAuditStore(path, crypto)) });
  },
  auditLogStorage: () => {
    const path = join(dir, `logs-${++n}`, 'audit.db');
    mkdirSync(dirname(path));
    return Promise.resolve({ open: () => Promise.resolve(sqliteAuditLogStores(path, crypto)) });
  },
  quarantineStorage: () => {
    const path = join(dir, `quarantine-${++n}.db`);
    return Promise.resolve({ open: () => Promise.resolve(new SqliteQuarantineStore(path)) });
  },
});
