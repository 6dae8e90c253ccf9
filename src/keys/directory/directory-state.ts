import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { CryptoProvider } from '../../crypto/provider.js';
import { toHex } from '../bytes.js';
import { assertPrivateFile, PrivateFileError, writePrivateFile } from '../private-file.js';
import { DirectoryError } from './directory-error.js';
import type { DirectoryHead, SignedHead } from './directory-record.js';
import {
  headToBeSigned,
  parseSignedHead,
  signedHeadJsonSchema,
  signedHeadToJson,
} from './directory-record.js';

/**
 * The newest directory head a service has accepted, kept across restarts so that a restarted service
 * refuses an older signed directory (docs/OPERATIONS.md "Directory state"). The head is stored signed:
 * a forged or edited state is detected against the pinned authority key. Records need no storage: the
 * head binds them (count and digest), so an accepted head at least as new as this one cannot bring an
 * older record back.
 */
export interface DirectoryStateStore {
  /** The saved head, or undefined when none was saved yet (a fresh service). Throws DIRECTORY_STATE_INVALID. */
  load(): Promise<SignedHead | undefined>;
  /**
   * Saves `head` unless the saved one is newer (same authority, higher epoch, or the same epoch issued
   * later): the state only moves forward. Throws DIRECTORY_STATE_UNWRITABLE.
   */
  save(head: SignedHead, authorityKid: Uint8Array): Promise<void>;
}

const stateFileSchema = z
  .object({ format: z.literal('sealpost-directory-state/v1'), head: signedHeadJsonSchema })
  .strict();

/** True when `a` is a newer head than `b` (epoch first, then issue time). */
export function isNewerHead(a: DirectoryHead, b: DirectoryHead): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.issuedAtMs > b.issuedAtMs);
}

/**
 * The state as a small JSON file (mode 0600, written through a temporary file, fsync and rename, so a
 * crash leaves the old or the new state, never half of one). Give each service its own path on storage
 * that survives its restarts. Saves to one path are serialized within the process.
 */
export class FileDirectoryStateStore implements DirectoryStateStore {
  /** Saves to one path are serialized across instances (they share the temporary file name). */
  static readonly #chains = new Map<string, Promise<void>>();

  constructor(readonly path: string) {}

  async load(): Promise<SignedHead | undefined> {
    try {
      await assertPrivateFile(this.path);
    } catch (err) {
      if (err instanceof PrivateFileError && err.problem === 'not-found') return undefined;
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path}: ${err instanceof Error ? err.message : 'unreadable'}`,
        { cause: err },
      );
    }
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path} cannot be read`,
        { cause: err },
      );
    }
    if (text.length > 4096)
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path} is too large`,
      );
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path} is not JSON`,
      );
    }
    const parsed = stateFileSchema.safeParse(json);
    if (!parsed.success)
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path} is malformed`,
      );
    try {
      return parseSignedHead(parsed.data.head);
    } catch (err) {
      throw new DirectoryError(
        'DIRECTORY_STATE_INVALID',
        `directory state file ${this.path} holds a malformed head`,
        { cause: err },
      );
    }
  }

  save(head: SignedHead, authorityKid: Uint8Array): Promise<void> {
    const key = resolve(this.path);
    const chains = FileDirectoryStateStore.#chains;
    const run = (chains.get(key) ?? Promise.resolve()).then(() => this.#save(head, authorityKid));
    const settled = run.catch(() => undefined);
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return run;
  }

  async #save(head: SignedHead, authorityKid: Uint8Array): Promise<void> {
    let held: SignedHead | undefined;
    try {
      held = await this.load();
    } catch {
      held = undefined; // an unreadable state is replaced by a good one
    }
    if (
      held !== undefined &&
      toHex(held.head.authorityKid) === toHex(authorityKid) &&
      !isNewerHead(head.head, held.head)
    )
      return;
    const text = `${JSON.stringify({ format: 'sealpost-directory-state/v1', head: signedHeadToJson(head) })}\n`;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await writePrivateFile(this.path, text, false);
    } catch (err) {
      throw new DirectoryError(
        'DIRECTORY_STATE_UNWRITABLE',
        `cannot write directory state file ${this.path}`,
        { cause: err },
      );
    }
  }
}

/**
 * Checks a loaded state against the pinned authority key. Returns the head to hold as the floor, or
 * undefined when the state belongs to another authority (the pinned key was changed: the old state
 * says nothing about the new directory and is replaced on the next save). A bad signature is
 * DIRECTORY_STATE_INVALID: the file was edited, not written by sealpost.
 */
export function verifyStateHead(
  crypto: CryptoProvider,
  authorityPublicKey: Uint8Array,
  authorityKid: Uint8Array,
  saved: SignedHead,
): DirectoryHead | undefined {
  if (!crypto.equalConstantTime(saved.head.authorityKid, authorityKid)) return undefined;
  if (!crypto.verifyDetached(saved.signature, headToBeSigned(saved.head), authorityPublicKey))
    throw new DirectoryError(
      'DIRECTORY_STATE_INVALID',
      'the saved directory head does not verify against the pinned authority key',
    );
  return saved.head;
}
