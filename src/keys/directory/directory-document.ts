import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DirectoryError } from './directory-error.js';
import type { SignedHeadJson, SignedRecordJson } from './directory-record.js';
import {
  HEAD_KEY,
  recordKeyOf,
  signedHeadJsonSchema,
  signedRecordJsonSchema,
} from './directory-record.js';
import type { DirectorySnapshot, RawDirectorySnapshot } from './directory-snapshot.js';
import { signedHeadToJson, signedRecordToJson } from './directory-record.js';
import { writePrivateFile } from '../private-file.js';

/**
 * The directory as one JSON document (the file source, and what `publish` writes to the topic): the
 * authority's public key for reference (verification uses the pinned key, never this one), the signed
 * head and the signed records.
 */
export const directoryDocumentSchema = z
  .object({
    format: z.literal('sealpost-directory/v1'),
    authority: z
      .object({ kid: z.string().regex(/^[0-9a-f]{32}$/), publicKey: z.string().max(100) })
      .strict(),
    head: signedHeadJsonSchema,
    records: z.array(signedRecordJsonSchema).max(100_000),
  })
  .strict();
export type DirectoryDocument = z.infer<typeof directoryDocumentSchema>;

/** Parses a document strictly (unknown fields → DIRECTORY_MALFORMED). */
export function parseDirectoryDocument(json: unknown): DirectoryDocument {
  const p = directoryDocumentSchema.safeParse(json);
  if (!p.success) {
    const where = p.error.issues
      .map((i) => i.path.join('.') || '(root)')
      .slice(0, 5)
      .join(', ');
    throw new DirectoryError(
      'DIRECTORY_MALFORMED',
      `directory document is malformed (at: ${where})`,
    );
  }
  return p.data;
}

/** The entries a document stands for (the same shape a topic yields). */
export function documentEntries(doc: DirectoryDocument): RawDirectorySnapshot {
  return {
    entries: [
      ...doc.records.map((r: SignedRecordJson) => ({
        key: `record/${r.identity}/${r.sign.kid}`,
        value: r,
      })),
      { key: HEAD_KEY, value: doc.head },
    ],
  };
}

/** Rebuilds a document from a validated snapshot. */
export function snapshotToDocument(
  snapshot: DirectorySnapshot,
  authority: { kid: string; publicKey: string },
): DirectoryDocument {
  const head: SignedHeadJson = signedHeadToJson({
    head: snapshot.head,
    signature: snapshot.headSignature,
  });
  return {
    format: 'sealpost-directory/v1',
    authority,
    head,
    records: snapshot.signedRecords.map((s) => signedRecordToJson(s)),
  };
}

/** Reads a document file (no secrets in it; any mode is fine). */
export async function readDirectoryDocument(path: string): Promise<DirectoryDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new DirectoryError('DIRECTORY_SOURCE_UNAVAILABLE', `cannot read directory file ${path}`, {
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DirectoryError('DIRECTORY_MALFORMED', `directory file ${path} is not JSON`);
  }
  return parseDirectoryDocument(json);
}

/** Writes a document atomically. */
export async function writeDirectoryDocument(path: string, doc: DirectoryDocument): Promise<void> {
  try {
    await writePrivateFile(path, `${JSON.stringify(doc, null, 2)}\n`, false);
  } catch (err) {
    throw new DirectoryError(
      'DIRECTORY_SOURCE_UNAVAILABLE',
      `cannot write directory file ${path}`,
      { cause: err },
    );
  }
}

/** Where a KeyDirectory reads from. */
export interface DirectorySource {
  /** Everything the source holds now. */
  readAll(): Promise<RawDirectorySnapshot>;
}

/** What a following source calls: a snapshot each time a new head was read, and failures. */
export interface DirectoryFollowHandler {
  /**
   * Everything read so far (each distinct value once, the newest head last), called once the reader
   * has read a new head and is at the end of what was written.
   */
  onSnapshot(raw: RawDirectorySnapshot): void;
  /** The follower failed (it restarts itself with backoff while not stopped). */
  onError(err: DirectoryError): void;
}

/** A running follower of a source. */
export interface DirectoryFollowing {
  /** Resolves once the follower has read the source to its end for the first time. */
  readonly caughtUp: Promise<void>;
  /** Stops following (idempotent). */
  stop(): Promise<void>;
}

/** A source that can push new versions as they are published (the directory topic), not only be polled. */
export interface FollowableDirectorySource extends DirectorySource {
  follow(handler: DirectoryFollowHandler): DirectoryFollowing;
}

/** True when `source` can push new versions (KeyDirectory then follows it). */
export function isFollowable(source: DirectorySource): source is FollowableDirectorySource {
  return typeof (source as Partial<FollowableDirectorySource>).follow === 'function';
}

/**
 * A compacted Kafka topic as a directory source and sink (implemented over the Transport port in
 * directory-topic.ts):
 * keys `head` and `record/<identity>/<signKid>`, JSON values; `publish` writes records first, head last.
 */
export interface DirectoryTopicSource extends FollowableDirectorySource {
  publish(doc: DirectoryDocument): Promise<void>;
  close(): Promise<void>;
}

/** The file source: one JSON document, re-read on every refresh. */
export class FileDirectorySource implements DirectorySource {
  constructor(readonly path: string) {}
  async readAll(): Promise<RawDirectorySnapshot> {
    return documentEntries(await readDirectoryDocument(this.path));
  }
}

/** Record key of a record in JSON form. */
export function recordJsonKey(r: SignedRecordJson): string {
  return recordKeyOf({ identity: r.identity, signKid: Buffer.from(r.sign.kid, 'hex') });
}
