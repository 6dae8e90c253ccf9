import type { CryptoProvider } from '../crypto/provider.js';
import type { AuditEntry } from './audit-chain.js';
import {
  MerkleTreeBuilder,
  consistencyProof,
  leafHash,
  leafHashArray,
  treeRoot,
  verifyConsistency,
} from './merkle-tree.js';
import { ed25519NoteVerifier, type NoteSigner, type NoteVerifier } from './signed-note.js';
import { openCheckpoint, signCheckpoint, type TlogCheckpoint } from './tlog-checkpoint.js';

/**
 * The audit log as a transparency log (docs/AUDIT.md): the stored entries, in order, are the leaves
 * of an RFC 6962 tree (leaf bytes = the entry's canonical event bytes), and each checkpoint of the
 * audit worker is also a C2SP tlog-checkpoint note signed by the audit key under the log's origin.
 */

/**
 * The origin of the single log a worker kept before logs were per partition (docs/AUDIT.md,
 * "Migration"): a store written then is verified under this origin.
 */
export function defaultAuditOrigin(metadataTopic: string): string {
  return `sealpost/audit/${metadataTopic}`;
}

/** Which log: one per partition of a metadata topic of one cluster (docs/AUDIT.md). */
export interface AuditLogId {
  /** The cluster's name as the operator calls it (SEALPOST_CLUSTER_NAME); a note key name part. */
  readonly cluster: string;
  readonly topic: string;
  readonly partition: number;
}

/** `sealpost/audit/<cluster>/<topic>/<partition>`: the origin line and signing key name of a log. */
export function auditLogOrigin(log: AuditLogId): string {
  if (!/^[A-Za-z0-9._-]{1,200}$/.test(log.cluster))
    throw new RangeError('the cluster name must be 1-200 of [A-Za-z0-9._-]');
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(log.topic)) throw new RangeError('invalid topic name');
  if (!Number.isSafeInteger(log.partition) || log.partition < 0)
    throw new RangeError('partition out of range');
  return `sealpost/audit/${log.cluster}/${log.topic}/${log.partition}`;
}

/** The log an origin names, or undefined for any other origin (e.g. the legacy single log). */
export function parseAuditLogOrigin(origin: string): AuditLogId | undefined {
  const m =
    /^sealpost\/audit\/([A-Za-z0-9._-]{1,200})\/([A-Za-z0-9._-]{1,249})\/(0|[1-9][0-9]{0,8})$/.exec(
      origin,
    );
  if (m === null) return undefined;
  return { cluster: m[1]!, topic: m[2]!, partition: Number(m[3]) };
}

/**
 * Signs checkpoint notes of a store's tree. Keeps the tree's right edge (O(log n)) and reads only
 * the entries appended since the last note.
 */
export class AuditTlog {
  readonly #crypto: Pick<CryptoProvider, 'sha256'>;
  readonly #entries: (fromIndex: number) => AsyncIterable<AuditEntry> | Iterable<AuditEntry>;
  readonly #origin: string;
  readonly #signer: () => NoteSigner;
  #builder: MerkleTreeBuilder;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: {
    readonly crypto: Pick<CryptoProvider, 'sha256'>;
    /** The store's entries from an index on (AuditStore.entries). */
    readonly entries: (fromIndex: number) => AsyncIterable<AuditEntry> | Iterable<AuditEntry>;
    readonly origin: string;
    /**
     * Signs as the audit key; its name must be the origin. A function is asked at every checkpoint
     * (the audit key in force then: after a rotation, the new one — docs/AUDIT.md).
     */
    readonly signer: NoteSigner | (() => NoteSigner);
  }) {
    const signer = options.signer;
    this.#signer = typeof signer === 'function' ? signer : () => signer;
    if (this.#signer().name !== options.origin) {
      throw new RangeError('the checkpoint signer must be named after the origin');
    }
    this.#crypto = options.crypto;
    this.#entries = options.entries;
    this.#origin = options.origin;
    this.#builder = new MerkleTreeBuilder(options.crypto);
  }

  get origin(): string {
    return this.#origin;
  }

  /** The signed checkpoint note of the first `size` entries of the store. */
  checkpointAt(size: number): Promise<string> {
    // One at a time: the tree builder is extended while the store's entries are read.
    const run = this.#queue.then(() => this.#checkpointAt(size));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #checkpointAt(size: number): Promise<string> {
    if (size < this.#builder.size) this.#builder = new MerkleTreeBuilder(this.#crypto); // rare: republish
    if (size > this.#builder.size) {
      for await (const entry of this.#entries(this.#builder.size)) {
        if (entry.index !== this.#builder.size) {
          throw new RangeError(
            `audit store returned entry ${entry.index} at ${this.#builder.size}`,
          );
        }
        this.#builder.appendLeafHash(leafHash(this.#crypto, entry.event));
        if (this.#builder.size === size) break;
      }
      if (this.#builder.size !== size)
        throw new RangeError(`the store has fewer than ${size} entries`);
    }
    const checkpoint: TlogCheckpoint = {
      origin: this.#origin,
      size,
      rootHash: this.#builder.root(),
      extensions: [],
    };
    const signer = this.#signer();
    if (signer.name !== this.#origin)
      throw new RangeError('the checkpoint signer must be named after the origin');
    return signCheckpoint(checkpoint, [signer]);
  }
}

/** The leaf hashes of stored entries, in order. */
export async function auditLeafHashes(
  crypto: Pick<CryptoProvider, 'sha256'>,
  entries: AsyncIterable<AuditEntry> | Iterable<AuditEntry>,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const e of entries) out.push(leafHash(crypto, e.event));
  return out;
}

export type TlogProblem =
  /** A published note that does not open under the audit key (forged, edited, malformed). */
  | 'TLOG_CHECKPOINT_BAD_SIGNATURE'
  /** A published checkpoint whose tree head the stored log does not have at that size. */
  | 'TLOG_CHECKPOINT_MISMATCH'
  /** Two consecutive published checkpoints that no consistency proof joins. */
  | 'TLOG_CHECKPOINT_INCONSISTENT'
  /**
   * A checkpoint signed by an older audit key than a smaller checkpoint of the same log: after a
   * rotation the old key is no longer valid for the log (docs/AUDIT.md, "Audit-key rotation").
   */
  | 'TLOG_CHECKPOINT_KEY_ORDER'
  /** A published checkpoint larger than the stored log. */
  | 'TRUNCATED';

export interface TlogVerifyReport {
  readonly ok: boolean;
  /** Notes of this log that opened under the audit key. */
  readonly checkpoints: number;
  /** Consecutive pairs whose consistency proof verified. */
  readonly consistentPairs: number;
  /** The note key IDs (8 hex digits) that signed the verified checkpoints, in size order, deduplicated. */
  readonly keyIds?: readonly string[];
  readonly problem?: TlogProblem;
  readonly detail?: string;
}

/**
 * Checks the published checkpoint notes of one log against the stored entries: every note of the
 * log's origin must open under one of the audit keys; sorted by size, each consecutive pair must be
 * joined by a consistency proof (computed from the store, verified against the two signed heads); the
 * store must hold at least the largest size, and its head at that size must be the newest note's.
 * Notes of other origins are other logs and are skipped.
 *
 * `auditKeys` are the audit identity's signing keys in the order they became valid (oldest first; a
 * single key when it was never rotated). A key is valid for a log from its first checkpoint until the
 * first checkpoint signed by a newer key: sorted by size, the signing key never goes back
 * (TLOG_CHECKPOINT_KEY_ORDER otherwise), so a retired key cannot sign a later tree head.
 */
export function verifyTlogCheckpoints(
  crypto: Pick<CryptoProvider, 'sha256' | 'verifyDetached'>,
  leafHashes: readonly Uint8Array[],
  notes: readonly string[],
  origin: string,
  auditKeys: Uint8Array | readonly Uint8Array[],
): TlogVerifyReport {
  const keys = auditKeys instanceof Uint8Array ? [auditKeys] : auditKeys;
  const verifiers: NoteVerifier[] = keys.map((k) => ed25519NoteVerifier(crypto, origin, k));
  const heads: { checkpoint: TlogCheckpoint; key: number }[] = [];
  for (const note of notes) {
    const opened = openCheckpoint(note, verifiers);
    if (!opened.ok) {
      // A note of another log (another origin, another key name) is not ours to judge.
      if (opened.problem === 'UNKNOWN_KEY' && !note.startsWith(`${origin}\n`)) continue;
      return fail(
        'TLOG_CHECKPOINT_BAD_SIGNATURE',
        `a published note does not verify (${opened.problem})`,
      );
    }
    if (opened.checkpoint.origin !== origin) continue;
    // The newest of the keys that signed it (a note signed during a hand-over may carry both).
    const key = Math.max(
      ...opened.verifiedBy.map((v) => verifiers.findIndex((x) => x.keyId === v.keyId)),
    );
    heads.push({ checkpoint: opened.checkpoint, key });
  }
  heads.sort((a, b) => a.checkpoint.size - b.checkpoint.size || a.key - b.key);
  const leaves = leafHashArray(leafHashes);
  const newest = heads.at(-1)?.checkpoint;
  if (newest !== undefined && newest.size > leaves.size) {
    return fail(
      'TRUNCATED',
      `published checkpoint at size ${newest.size} but the log has ${leaves.size} entries`,
    );
  }
  let consistentPairs = 0;
  for (let i = 1; i < heads.length; i++) {
    const older = heads[i - 1]!;
    const newer = heads[i]!;
    if (newer.key < older.key) {
      return fail(
        'TLOG_CHECKPOINT_KEY_ORDER',
        `size ${newer.checkpoint.size} is signed by key ${hex8(verifiers[newer.key]!.keyId)}, older than key ${hex8(verifiers[older.key]!.keyId)} of size ${older.checkpoint.size}`,
      );
    }
    const a = older.checkpoint;
    const b = newer.checkpoint;
    const proof = consistencyProof(crypto, leaves, a.size, b.size);
    if (!verifyConsistency(crypto, a.size, b.size, proof, a.rootHash, b.rootHash)) {
      return fail('TLOG_CHECKPOINT_INCONSISTENT', `size ${b.size} does not extend size ${a.size}`);
    }
    consistentPairs++;
  }
  if (newest !== undefined) {
    const root = treeRoot(crypto, leaves, newest.size);
    if (!equal(root, newest.rootHash)) {
      return fail(
        'TLOG_CHECKPOINT_MISMATCH',
        `the stored log's head at size ${newest.size} is not the published one`,
      );
    }
  }
  const keyIds = [...new Set(heads.map((h) => hex8(verifiers[h.key]!.keyId)))];
  return { ok: true, checkpoints: heads.length, consistentPairs, keyIds };

  function fail(problem: TlogProblem, detail: string): TlogVerifyReport {
    return { ok: false, checkpoints: heads.length, consistentPairs: 0, problem, detail };
  }
}

function hex8(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
