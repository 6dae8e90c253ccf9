import type { CryptoProvider } from '../crypto/provider.js';
import type { MetadataEvent } from '../events/metadata-event.js';
import { genesisHash, verifyChain, type AuditEntry, type ChainFault } from './audit-chain.js';
import { verifyCheckpointSignature, type AuditCheckpoint } from './audit-checkpoint.js';

export type AuditProblem =
  | ChainFault['problem']
  | 'CHECKPOINT_BAD_SIGNATURE'
  | 'CHECKPOINT_WRONG_SIGNER'
  | 'CHECKPOINT_ROLLED_BACK'
  | 'CHECKPOINT_MISMATCH'
  | 'TRUNCATED'
  /** A stored column that queries filter on (message id, sender, …) differs from the chained event. */
  | 'COLUMN_MISMATCH';

/**
 * The columns a store keeps beside each event for lookups (`audit query`) and deduplication, as
 * derived from the event. They are not in the hash chain: verify recomputes them from the chained
 * event bytes and compares. The sender of a `sealed` event is its actor (the producer emitting it).
 */
export interface IndexedColumns {
  readonly event_id: string;
  readonly type: string;
  readonly time_ms: number;
  readonly message_id: string | null;
  readonly sender: string | null;
  readonly topic: string | null;
}

/** The indexed columns of `event` (see IndexedColumns). */
export function indexedColumnsOf(event: MetadataEvent): IndexedColumns {
  return {
    event_id: event.eventId,
    type: event.type,
    time_ms: event.timeMs,
    message_id: event.messageId ?? null,
    sender: event.sender ?? (event.type === 'sealed' ? event.actor : null),
    topic: event.topic ?? null,
  };
}

/** An entry as a store reads it: the chained fields, and the indexed columns when it keeps them. */
export type StoredAuditEntry = AuditEntry & { readonly columns?: IndexedColumns };

/** The first indexed column of `entry` that does not match its event, or undefined. */
export function columnFault(entry: StoredAuditEntry): string | undefined {
  const stored = entry.columns;
  if (stored === undefined) return undefined;
  let event: MetadataEvent;
  try {
    event = JSON.parse(Buffer.from(entry.event).toString('utf8')) as MetadataEvent;
  } catch {
    return 'event (not JSON)';
  }
  const expected = indexedColumnsOf(event);
  for (const column of Object.keys(expected) as (keyof IndexedColumns)[]) {
    if (stored[column] === expected[column]) continue;
    // Stores written before sealed events were indexed under their actor kept no sender for them.
    if (column === 'sender' && event.type === 'sealed' && stored.sender === null) continue;
    return column;
  }
  return undefined;
}

/** One signing key of the audit identity: its Ed25519 public key and its 16-byte kid. */
export interface AuditKey {
  readonly publicKey: Uint8Array;
  readonly kid: Uint8Array;
}

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
 * checkpoint's count. A log shorter than a checkpoint has been truncated. The indexed columns a
 * store keeps beside each entry must match the entry's event (COLUMN_MISMATCH otherwise).
 */
export async function verifyAuditLog(
  crypto: CryptoProvider,
  entries: AsyncIterable<StoredAuditEntry> | Iterable<StoredAuditEntry>,
  checkpoints: readonly AuditCheckpoint[],
  auditPublicKey: Uint8Array | readonly AuditKey[],
  auditKid?: Uint8Array,
): Promise<AuditVerifyReport> {
  // The audit identity's signing keys, oldest first (a rotated key: docs/AUDIT.md).
  const keys: readonly AuditKey[] =
    auditPublicKey instanceof Uint8Array
      ? [{ publicKey: auditPublicKey, kid: auditKid ?? new Uint8Array(0) }]
      : auditPublicKey;
  // 1. Checkpoints first: they are the outside anchors.
  const sorted = [...checkpoints].sort((a, b) => a.timeMs - b.timeMs || a.count - b.count);
  let highest: AuditCheckpoint | undefined;
  for (const c of sorted) {
    const key = keys.find((k) => crypto.equalConstantTime(c.signerKid, k.kid));
    if (key === undefined) {
      return fail(0, 0, 'CHECKPOINT_WRONG_SIGNER', `checkpoint at count ${c.count}`);
    }
    if (!verifyCheckpointSignature(crypto, c, key.publicKey)) {
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
  const onHead = (count: number, headHash: Uint8Array): void => {
    for (const c of wanted.get(count) ?? []) {
      if (!crypto.equalConstantTime(c.headHash, headHash)) {
        firstMismatch ??= { index: lastGoodCheckpointCount, count };
        return;
      }
    }
    if (!firstMismatch) lastGoodCheckpointCount = count;
  };
  // One pass over the (possibly large, paged) store: per entry, its columns, its chain link, and
  // the head at each checkpointed count once the entry is verified.
  let firstColumnFault: { index: number; column: string } | undefined;
  let chain: ReturnType<typeof verifyChain> | undefined;
  let expectedPrev = genesisHash(crypto);
  let position = 0;
  for await (const e of entries) {
    const column = columnFault(e);
    if (column !== undefined) firstColumnFault ??= { index: position, column };
    const step = verifyChain(crypto, [e], { index: position, prevHash: expectedPrev });
    if (!step.ok) {
      chain = step;
      break;
    }
    expectedPrev = step.headHash;
    position++;
    if (wanted.has(position)) onHead(position, e.entryHash);
  }
  chain ??= { ok: true, count: position, headHash: expectedPrev };
  if (
    !chain.ok &&
    (firstColumnFault === undefined || chain.fault.index <= firstColumnFault.index)
  ) {
    return fail(chain.fault.index, chain.fault.index, chain.fault.problem);
  }
  if (firstColumnFault !== undefined) {
    return fail(
      chain.ok ? chain.count : chain.fault.index,
      firstColumnFault.index,
      'COLUMN_MISMATCH',
      `stored column ${firstColumnFault.column} of entry ${firstColumnFault.index} does not match its event`,
    );
  }
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
