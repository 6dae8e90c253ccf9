import { MERKLE_HASH_BYTES } from './merkle-tree.js';
import {
  NoteError,
  decodeBase64Strict,
  openNote,
  signNote,
  type NoteProblem,
  type NoteSigner,
  type NoteVerifier,
} from './signed-note.js';

/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint, docs/AUDIT.md): the signed-note text
 *
 *   <origin>\n<tree size, decimal>\n<base64 RFC 6962 root hash>\n[<extension line>\n]*
 *
 * signed by the log's key, whose name is the origin.
 */
export interface TlogCheckpoint {
  /** The log's identity; non-empty, no newline. */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** RFC 6962 root hash of the first `size` leaves (32 bytes). */
  readonly rootHash: Uint8Array;
  /** Opaque, non-empty extension lines (none by default; the spec does not recommend them). */
  readonly extensions: readonly string[];
}

/** The checkpoint's note text. Throws NoteError for fields the format cannot carry. */
export function formatCheckpoint(checkpoint: TlogCheckpoint): string {
  const { origin, size, rootHash, extensions } = checkpoint;
  if (origin.length === 0 || origin.includes('\n'))
    throw new NoteError('invalid checkpoint origin');
  if (!Number.isSafeInteger(size) || size < 0) throw new NoteError('checkpoint size out of range');
  if (rootHash.length !== MERKLE_HASH_BYTES) {
    throw new NoteError(`checkpoint root hash must be ${MERKLE_HASH_BYTES} bytes`);
  }
  for (const line of extensions) {
    if (line.length === 0 || line.includes('\n')) {
      throw new NoteError('checkpoint extension lines must be non-empty single lines');
    }
  }
  const lines = [origin, String(size), Buffer.from(rootHash).toString('base64'), ...extensions];
  return `${lines.join('\n')}\n`;
}

/** Parses a checkpoint's note text strictly; null if it is not one. */
export function parseCheckpoint(text: string): TlogCheckpoint | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l.length === 0)) return null;
  const [origin, sizeLine, rootLine, ...extensions] = lines as [
    string,
    string,
    string,
    ...string[],
  ];
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) return null;
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) return null;
  const rootHash = decodeBase64Strict(rootLine);
  if (rootHash === null || rootHash.length !== MERKLE_HASH_BYTES) return null;
  return { origin, size, rootHash, extensions };
}

/** The signed checkpoint note. */
export function signCheckpoint(checkpoint: TlogCheckpoint, signers: readonly NoteSigner[]): string {
  return signNote(formatCheckpoint(checkpoint), signers);
}

export type OpenedCheckpoint =
  | {
      readonly ok: true;
      readonly checkpoint: TlogCheckpoint;
      readonly verifiedBy: readonly { readonly name: string; readonly keyId: number }[];
    }
  | { readonly ok: false; readonly problem: NoteProblem | 'NOT_A_CHECKPOINT' | 'WRONG_ORIGIN' };

/**
 * Opens a signed checkpoint: the note must verify (openNote), its text must be a checkpoint, and
 * with `origin` given, be that log's.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  known: readonly NoteVerifier[],
  origin?: string,
): OpenedCheckpoint {
  const opened = openNote(note, known);
  if (!opened.ok) return opened;
  const checkpoint = parseCheckpoint(opened.text);
  if (checkpoint === null) return { ok: false, problem: 'NOT_A_CHECKPOINT' };
  if (origin !== undefined && checkpoint.origin !== origin) {
    return { ok: false, problem: 'WRONG_ORIGIN' };
  }
  return { ok: true, checkpoint, verifiedBy: opened.verifiedBy };
}
