import type { CryptoProvider } from '../crypto/provider.js';
import { genesisHash, verifyChain, type AuditEntry, type ChainFault } from './audit-chain.js';
import { verifyCheckpointSignature, type AuditCheckpoint } from './audit-checkpoint.js';

export type AuditProblem =
  | ChainFault['problem']
  | 'CHECKPOINT_BAD_SIGNATURE'
  | 'CHECKPOINT_WRONG_SIGNER'
  | 'CHECKPOINT_ROLLED_BACK'
  | 'CHECKPOINT_MISMATCH'
  | 'TRUNCATED';

export interface AuditVerifyReport {
  readonly ok: boolean;
  /** Entries in the log as stored. */
  readonly count: number;
  /** Checkpoints whose signature verified and which the log extends. */
  readonly checkpointsVerified: number;
  /** The first index at which the log cannot be trusted, when not ok. */
  readonly firstBadIndex?: number;
  readonly problem?: AuditProblem;
  readonly detail?: string;
}

/**
 * Verifies an audit log: recomputes the chain from genesis, checks every checkpoint's signature
 * (stored beside the log and published outside it) under the pinned audit key, requires checkpoints
 * never to go backwards, and requires the log to extend each of them — same head hash at the
 * checkpoint's count. A log shorter than a checkpoint has been truncated.
 */
export function verifyAuditLog(
  crypto: CryptoProvider,
  entries: Iterable<AuditEntry>,
  checkpoints: readonly AuditCheckpoint[],
  auditPublicKey: Uint8Array,
  auditKid: Uint8Array,
): AuditVerifyReport {
  // 1. Checkpoints first: they are the outside anchors.
  const sorted = [...checkpoints].sort((a, b) => a.timeMs - b.timeMs || a.count - b.count);
  let highest: AuditCheckpoint | undefined;
  for (const c of sorted) {
    if (!crypto.equalConstantTime(c.signerKid, auditKid)) {
      return fail(0, 0, 'CHECKPOINT_WRONG_SIGNER', `checkpoint at count ${c.count}`);
    }
    if (!verifyCheckpointSignature(crypto, c, auditPublicKey)) {
      return fail(0, 0, 'CHECKPOINT_BAD_SIGNATURE', `checkpoint at count ${c.count}`);
    }
    if (highest && c.count < highest.count) {
      return fail(0, 0, 'CHECKPOINT_ROLLED_BACK', `count ${c.count} after ${highest.count}`);
    }
    highest = c;
  }
  // 2. Walk the chain once, noting the head hash at each checkpointed count.
  const wanted = new Map<number, AuditCheckpoint[]>();
  for (const c of sorted) {
    const list = wanted.get(c.count) ?? [];
    list.push(c);
    wanted.set(c.count, list);
  }
  let firstMismatch: { index: number; count: number } | undefined;
  let lastGoodCheckpointCount = 0;
  for (const c of wanted.get(0) ?? []) {
    if (!crypto.equalConstantTime(c.headHash, genesisHash(crypto)))
      firstMismatch = { index: 0, count: 0 };
  }
  const observed = observeHeads(entries, wanted, (count, headHash) => {
    for (const c of wanted.get(count) ?? []) {
      if (!crypto.equalConstantTime(c.headHash, headHash)) {
        firstMismatch ??= { index: lastGoodCheckpointCount, count };
        return;
      }
    }
    if (!firstMismatch) lastGoodCheckpointCount = count;
  });
  const chain = verifyChain(crypto, observed);
  if (!chain.ok) {
    return fail(chain.fault.index, chain.fault.index, chain.fault.problem);
  }
  if (firstMismatch) {
    return fail(
      chain.count,
      firstMismatch.index,
      'CHECKPOINT_MISMATCH',
      `log does not extend the checkpoint at count ${firstMismatch.count}`,
    );
  }
  if (highest && highest.count > chain.count) {
    return fail(
      chain.count,
      chain.count,
      'TRUNCATED',
      `checkpoint at count ${highest.count} but the log has ${chain.count} entries`,
    );
  }
  return { ok: true, count: chain.count, checkpointsVerified: sorted.length };

  function fail(
    count: number,
    firstBadIndex: number,
    problem: AuditProblem,
    detail?: string,
  ): AuditVerifyReport {
    return {
      ok: false,
      count,
      checkpointsVerified: 0,
      firstBadIndex,
      problem,
      ...(detail === undefined ? {} : { detail }),
    };
  }
}

/** Passes entries through, calling `onHead(count, entryHash)` after each entry whose count is wanted. */
function* observeHeads(
  entries: Iterable<AuditEntry>,
  wanted: ReadonlyMap<number, unknown>,
  onHead: (count: number, headHash: Uint8Array) => void,
): IterableIterator<AuditEntry> {
  let count = 0;
  for (const e of entries) {
    yield e;
    count++;
    if (wanted.has(count)) onHead(count, e.entryHash);
  }
}
