import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  computeEntryHash,
  genesisHash,
  nextEntry,
  verifyChain,
  type AuditEntry,
} from '../../../src/audit/audit-chain.js';
import { signCheckpoint, type AuditCheckpoint } from '../../../src/audit/audit-checkpoint.js';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log.js';

let crypto: CryptoProvider;
let log: AuditEntry[];
const N = 10_000;

function buildLog(c: CryptoProvider, n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = genesisHash(c);
  for (let i = 0; i < n; i++) {
    const e = nextEntry(
      c,
      i,
      prev,
      new TextEncoder().encode(`{"eventId":"${i.toString(16).padStart(32, '0')}","n":${i}}`),
    );
    out.push(e);
    prev = e.entryHash;
  }
  return out;
}

beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
  log = buildLog(crypto, N);
});

/**
 * The first bad index the verifier reports for a tampered copy of the log. The walk starts at a
 * verified anchor shortly before the tampering (`untouchedBefore`: every entry below it is the
 * original), as incremental verification from a checkpoint does; a full walk from genesis is tested
 * separately below, so the 4,000 random cases stay fast.
 */
function firstBad(entries: AuditEntry[], untouchedBefore = 0): number | null {
  const start = Math.max(0, untouchedBefore - 64);
  const from = start === 0 ? undefined : { index: start, prevHash: log[start - 1]!.entryHash };
  const r = verifyChain(crypto, entries.slice(start), from);
  return r.ok ? null : r.fault.index;
}

describe('audit hash chain', () => {
  it('verifies an untouched log of 10,000 entries and reports its head', () => {
    const r = verifyChain(crypto, log);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.count).toBe(N);
      expect(Buffer.from(r.headHash).equals(Buffer.from(log[N - 1]!.entryHash))).toBe(true);
    }
  });

  it('entry hashes depend on index, previous hash and every event byte', () => {
    const e = log[5]!;
    const base = computeEntryHash(crypto, 5, e.prevHash, e.event);
    expect(Buffer.from(base).equals(Buffer.from(e.entryHash))).toBe(true);
    expect(
      Buffer.from(computeEntryHash(crypto, 6, e.prevHash, e.event)).equals(Buffer.from(base)),
    ).toBe(false);
    const prev = new Uint8Array(e.prevHash);
    prev[0]! ^= 1;
    expect(Buffer.from(computeEntryHash(crypto, 5, prev, e.event)).equals(Buffer.from(base))).toBe(
      false,
    );
  });

  // 1,000 random cases of each kind of tampering on a log of 10,000: always caught, at the exact
  // first index where the stored log differs from the true one.
  const runs = 1000;

  it('detects every deletion at the deleted index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: N - 2 }), (i) => {
        const t = log.slice();
        t.splice(i, 1);
        expect(firstBad(t, i)).toBe(i);
      }),
      { numRuns: runs },
    );
  });

  it('detects every insertion of a stored row at the inserted index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: N - 1 }),
        fc.integer({ min: 0, max: N - 1 }),
        (i, j) => {
          fc.pre(i !== j);
          const t = log.slice();
          t.splice(i, 0, log[j]!);
          expect(firstBad(t, i)).toBe(i);
        },
      ),
      { numRuns: runs },
    );
  });

  it('detects every swap of two entries at the lower index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: N - 1 }),
        fc.integer({ min: 0, max: N - 1 }),
        (a, b) => {
          fc.pre(a !== b);
          const t = log.slice();
          [t[a], t[b]] = [t[b]!, t[a]!];
          expect(firstBad(t, Math.min(a, b))).toBe(Math.min(a, b));
        },
      ),
      { numRuns: runs },
    );
  });

  it('detects every byte edit (event, prevHash or entryHash) at the edited index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: N - 1 }),
        fc.constantFrom('event', 'prevHash', 'entryHash'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (i, field, pos, xor) => {
          const t = log.slice();
          const orig = log[i]!;
          const bytes = new Uint8Array(orig[field as 'event']);
          bytes[pos % bytes.length]! ^= xor;
          t[i] = { ...orig, [field]: bytes };
          expect(firstBad(t, i)).toBe(i);
        },
      ),
      { numRuns: runs },
    );
  });

  it('a full walk from genesis finds each kind of tampering at its index', () => {
    for (const i of [0, 1, 4321, N - 2]) {
      const del = log.slice();
      del.splice(i, 1);
      expect(firstBad(del)).toBe(i);
      const ins = log.slice();
      ins.splice(i, 0, log[(i + 7) % N]!);
      expect(firstBad(ins)).toBe(i);
      const swap = log.slice();
      [swap[i], swap[i + 1]] = [swap[i + 1]!, swap[i]!];
      expect(firstBad(swap)).toBe(i);
      const edit = log.slice();
      const ev = new Uint8Array(log[i]!.event);
      ev[3]! ^= 0x20;
      edit[i] = { ...log[i]!, event: ev };
      expect(firstBad(edit)).toBe(i);
    }
  });

  it('catches a forger who recomputes the inserted entry at the next link', () => {
    const i = 1234;
    const forged = nextEntry(
      crypto,
      i,
      log[i - 1]!.entryHash,
      new TextEncoder().encode('{"forged":true}'),
    );
    const t = log.slice();
    t.splice(i, 0, forged);
    expect(firstBad(t)).toBe(i + 1);
  });
});

describe('signed checkpoints', () => {
  let auditKeys: { publicKey: Uint8Array; secretKey: Uint8Array };
  const kid = new Uint8Array(16).fill(7);
  const at = (count: number, timeMs: number, key = auditKeys.secretKey): AuditCheckpoint =>
    signCheckpoint(
      crypto,
      count,
      count === 0 ? genesisHash(crypto) : log[count - 1]!.entryHash,
      timeMs,
      kid,
      key,
    );

  beforeAll(() => {
    auditKeys = crypto.signKeyPair();
  });

  it('accepts a log that extends every checkpoint', async () => {
    const r = await verifyAuditLog(
      crypto,
      log,
      [at(1000, 1), at(5000, 2), at(N, 3)],
      auditKeys.publicKey,
      kid,
    );
    expect(r).toMatchObject({ ok: true, count: N, checkpointsVerified: 3 });
  });

  it('detects truncation of the tail when a later checkpoint exists', async () => {
    const r = await verifyAuditLog(
      crypto,
      log.slice(0, 9_000),
      [at(1000, 1), at(N, 2)],
      auditKeys.publicKey,
      kid,
    );
    expect(r).toMatchObject({ ok: false, problem: 'TRUNCATED', firstBadIndex: 9_000 });
  });

  it('detects a rewritten tail (chain recomputed) by the checkpoint it no longer extends', async () => {
    const t = log.slice(0, 6000);
    let prev = t[5999]!.entryHash;
    for (let i = 6000; i < N; i++) {
      const e = nextEntry(crypto, i, prev, new TextEncoder().encode(`{"rewritten":${i}}`));
      t.push(e);
      prev = e.entryHash;
    }
    const r = await verifyAuditLog(crypto, t, [at(5000, 1), at(N, 2)], auditKeys.publicKey, kid);
    expect(r).toMatchObject({ ok: false, problem: 'CHECKPOINT_MISMATCH', firstBadIndex: 5000 });
  });

  it('refuses a checkpoint signed by another key', async () => {
    const other = crypto.signKeyPair();
    const r = await verifyAuditLog(
      crypto,
      log,
      [at(N, 1, other.secretKey)],
      auditKeys.publicKey,
      kid,
    );
    expect(r).toMatchObject({ ok: false, problem: 'CHECKPOINT_BAD_SIGNATURE' });
  });

  it('refuses a tampered checkpoint', async () => {
    const c = at(N, 1);
    const r = await verifyAuditLog(crypto, log, [{ ...c, count: N - 1 }], auditKeys.publicKey, kid);
    expect(r).toMatchObject({ ok: false, problem: 'CHECKPOINT_BAD_SIGNATURE' });
  });

  it('refuses a checkpoint naming another signer kid', async () => {
    const c = at(N, 1);
    const r = await verifyAuditLog(
      crypto,
      log,
      [{ ...c, signerKid: new Uint8Array(16) }],
      auditKeys.publicKey,
      kid,
    );
    expect(r).toMatchObject({ ok: false, problem: 'CHECKPOINT_WRONG_SIGNER' });
  });

  it('refuses a rolled-back checkpoint (a later one with a lower count)', async () => {
    const r = await verifyAuditLog(crypto, log, [at(5000, 2), at(N, 1)], auditKeys.publicKey, kid);
    expect(r).toMatchObject({ ok: false, problem: 'CHECKPOINT_ROLLED_BACK' });
  });
});
