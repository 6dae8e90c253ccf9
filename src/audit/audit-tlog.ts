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

/** The origin of the single log an audit worker keeps today: one per metadata topic. */
export function defaultAuditOrigin(metadataTopic: string): string {
  return `sealpost/audit/${metadataTopic}`;
}

/**
 * Signs checkpoint notes of a store's tree. Keeps the tree's right edge (O(log n)) and reads only
 * the entries appended since the last note.
 */
export class AuditTlog {
  readonly #crypto: Pick<CryptoProvider, 'sha256'>;
  readonly #entries: (fromIndex: number) => AsyncIterable<AuditEntry> | Iterable<AuditEntry>;
  readonly #origin: string;
  readonly #signer: NoteSigner;
  #builder: MerkleTreeBuilder;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: {
    readonly crypto: Pick<CryptoProvider, 'sha256'>;
    /** The store's entries from an index on (AuditStore.entries). */
    readonly entries: (fromIndex: number) => AsyncIterable<AuditEntry> | Iterable<AuditEntry>;
    readonly origin: string;
    /** Signs as the audit key; its name must be the origin. */
    readonly signer: NoteSigner;
  }) {
    if (options.signer.name !== options.origin) {
      throw new RangeError('the checkpoint signer must be named after the origin');
    }
    this.#crypto = options.crypto;
    this.#entries = options.entries;
    this.#origin = options.origin;
    this.#signer = options.signer;
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
    return signCheckpoint(checkpoint, [this.#signer]);
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
  /** A published checkpoint larger than the stored log. */
  | 'TRUNCATED';

export interface TlogVerifyReport {
  readonly ok: boolean;
  /** Notes of this log that opened under the audit key. */
  readonly checkpoints: number;
  /** Consecutive pairs whose consistency proof verified. */
  readonly consistentPairs: number;
  readonly problem?: TlogProblem;
  readonly detail?: string;
}

/**
 * Checks the published checkpoint notes of one log against the stored entries: every note of the
 * log's origin must open under the audit key; sorted by size, each consecutive pair must be joined by
 * a consistency proof (computed from the store, verified against the two signed heads); the store
 * must hold at least the largest size, and its head at that size must be the newest note's.
 * Notes of other origins are other logs and are skipped.
 */
export function verifyTlogCheckpoints(
  crypto: Pick<CryptoProvider, 'sha256' | 'verifyDetached'>,
  leafHashes: readonly Uint8Array[],
  notes: readonly string[],
  origin: string,
  auditPublicKey: Uint8Array,
): TlogVerifyReport {
  const verifier: NoteVerifier = ed25519NoteVerifier(crypto, origin, auditPublicKey);
  const heads: TlogCheckpoint[] = [];
  for (const note of notes) {
    const opened = openCheckpoint(note, [verifier]);
    if (!opened.ok) {
      // A note of another log (another origin, another key name) is not ours to judge.
      if (opened.problem === 'UNKNOWN_KEY' && !note.startsWith(`${origin}\n`)) continue;
      return fail(
        'TLOG_CHECKPOINT_BAD_SIGNATURE',
        `a published note does not verify (${opened.problem})`,
      );
    }
    if (opened.checkpoint.origin !== origin) continue;
    heads.push(opened.checkpoint);
  }
  heads.sort((a, b) => a.size - b.size);
  const leaves = leafHashArray(leafHashes);
  const newest = heads.at(-1);
  if (newest !== undefined && newest.size > leaves.size) {
    return fail(
      'TRUNCATED',
      `published checkpoint at size ${newest.size} but the log has ${leaves.size} entries`,
    );
  }
  let consistentPairs = 0;
  for (let i = 1; i < heads.length; i++) {
    const older = heads[i - 1] as TlogCheckpoint;
    const newer = heads[i] as TlogCheckpoint;
    const proof = consistencyProof(crypto, leaves, older.size, newer.size);
    if (!verifyConsistency(crypto, older.size, newer.size, proof, older.rootHash, newer.rootHash)) {
      return fail(
        'TLOG_CHECKPOINT_INCONSISTENT',
        `size ${newer.size} does not extend size ${older.size}`,
      );
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
  return { ok: true, checkpoints: heads.length, consistentPairs };

  function fail(problem: TlogProblem, detail: string): TlogVerifyReport {
    return { ok: false, checkpoints: heads.length, consistentPairs: 0, problem, detail };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
