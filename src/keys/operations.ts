/**
 * Key lifecycle operations, as functions the CLI composes (`sealpost keys …`, `sealpost directory …`).
 * Each takes its side effects (crypto, clock, KMS, paths, sources) as arguments and returns a summary
 * with public values only (kids, public keys, states) — never key material.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import { fromBase64, toBase64, toHex } from './bytes.js';
import type {
  DirectoryDocument,
  DirectorySource,
  DirectoryTopicSource,
} from './directory/directory-document.js';
import {
  documentEntries,
  readDirectoryDocument,
  writeDirectoryDocument,
} from './directory/directory-document.js';
import { DirectoryError } from './directory/directory-error.js';
import type { DirectoryRecordDraft } from './directory/directory-signer.js';
import { DEFAULT_HEAD_TTL_MS, signDirectory } from './directory/directory-signer.js';
import type { DirectoryStatus } from './directory/directory-record.js';
import { recordKeyOf } from './directory/directory-record.js';
import type { DirectorySnapshot, RefusedEntry } from './directory/directory-snapshot.js';
import { validateSnapshot } from './directory/directory-snapshot.js';
import type { IdentityFile } from './identity-file.js';
import {
  assertSameKms,
  destroyRetiredGenerations,
  generateIdentityFile,
  loadIdentity,
  parseIdentityFile,
  publicGenerations,
  readIdentityFile,
  rewrapIdentityFile,
  rotateIdentityFile,
  writeIdentityFile,
} from './identity-file.js';
import type { LoadedIdentity } from './identity.js';
import { KeyError } from './key-error.js';
import type { Kms, KmsKeyDescription, KmsReference } from './kms/kms.js';
import { wrappedKeyVersion } from './kms/kms.js';
import {
  raiseMinDecryptionVersion,
  rewrapHolders,
  type WrappedKeyHolder,
  type WrappedKeyItem,
} from './kms/wrapped-key-inventory.js';
import { exists } from './private-file.js';

/** What every key operation needs. */
export interface KeyOpsContext {
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** The KMS that wraps (or wrapped) the identity's private keys. */
  readonly kms: Kms;
}

/** Public summary of an identity file. */
export interface IdentitySummary {
  readonly name: string;
  readonly kind: 'service' | 'authority';
  readonly kms: IdentityFile['kms'];
  readonly generations: readonly {
    readonly generation: number;
    readonly state: 'active' | 'retiring' | 'destroyed';
    readonly createdAtMs: number;
    readonly retiredAtMs: number | null;
    readonly destroyedAtMs: number | null;
    readonly boxKid: string;
    readonly signKid: string;
    /** The X-Wing (suite 2) kid; null for a generation without an X-Wing key pair. */
    readonly kemKid: string | null;
    /** KMS key version of the wrapped keys (null once destroyed). */
    readonly wrappedWithVersion: number | null;
  }[];
}

/** Summarises an identity file (public values only). */
export function summarizeIdentity(file: IdentityFile): IdentitySummary {
  return {
    name: file.name,
    kind: file.kind,
    kms: file.kms,
    generations: file.generations.map((g) => ({
      generation: g.generation,
      state: g.state,
      createdAtMs: g.createdAtMs,
      retiredAtMs: g.retiredAtMs,
      destroyedAtMs: g.destroyedAtMs,
      boxKid: g.box.kid,
      signKid: g.sign.kid,
      kemKid: g.kem?.kid ?? null,
      wrappedWithVersion:
        g.box.wrappedSecretKey === null
          ? null
          : Number(/^[a-z]+:v(\d+):/.exec(g.box.wrappedSecretKey)?.[1] ?? 0),
    })),
  };
}

/**
 * `keys init-authority`: creates the directory authority's identity file (refuses to overwrite).
 * Returns the authority's public key (base64) and kid — the values services pin.
 */
export async function initAuthority(
  args: { path: string; name?: string } & KeyOpsContext,
): Promise<{ summary: IdentitySummary; publicKey: string; kid: string }> {
  await refuseExisting(args.path);
  const file = await generateIdentityFile(args.name ?? 'authority', 'authority', args);
  await writeIdentityFile(args.path, file, { overwrite: false });
  const active = file.generations[0]!;
  return {
    summary: summarizeIdentity(file),
    publicKey: active.sign.publicKey,
    kid: active.sign.kid,
  };
}

/** Fails before any KMS call when the file exists (the write re-checks, against races). */
async function refuseExisting(path: string): Promise<void> {
  if (await exists(path))
    throw new KeyError('KEY_FILE_EXISTS', `refusing to overwrite existing file ${path}`);
}

/** The pinned values of an authority file (no unwrap needed). */
export async function authorityPublicKey(
  path: string,
  crypto: CryptoProvider,
): Promise<{ publicKey: Uint8Array; kid: string }> {
  const file = await readIdentityFile(path, crypto);
  if (file.kind !== 'authority')
    throw new KeyError('KEY_STATE_INVALID', `${path} is not an authority identity`);
  const active = file.generations.find((g) => g.state === 'active')!;
  return { publicKey: fromBase64(active.sign.publicKey, 32), kid: active.sign.kid };
}

/**
 * `keys create`: a new service identity file (refuses to overwrite); with `xwing` its generation also
 * gets an X-Wing key pair (suite 2).
 */
export async function createIdentity(
  args: { path: string; name: string; xwing?: boolean } & KeyOpsContext,
): Promise<IdentitySummary> {
  await refuseExisting(args.path);
  const file = await generateIdentityFile(args.name, 'service', args);
  await writeIdentityFile(args.path, file, { overwrite: false });
  return summarizeIdentity(file);
}

/**
 * `keys rotate`: a new active keypair generation; the previous one becomes retiring (still opens).
 * The new generation has an X-Wing key pair when `xwing` is set or the active one has one. Publish
 * the directory afterwards so peers seal to the new key.
 */
export async function rotateIdentity(
  args: { path: string; xwing?: boolean } & KeyOpsContext,
): Promise<IdentitySummary> {
  const file = await readIdentityFile(args.path, args.crypto);
  if (args.xwing === true && file.kind !== 'service')
    throw new KeyError(
      'KEY_STATE_INVALID',
      `${args.path}: only service identities get X-Wing keys`,
    );
  const next = await rotateIdentityFile(file, args);
  await writeIdentityFile(args.path, next, { overwrite: true });
  return summarizeIdentity(next);
}

/**
 * `keys destroy-retired`: crypto-shreds generations retired at least `retentionMs` ago (their wrapped
 * private keys are removed from the file). Returns the destroyed generation numbers.
 */
export async function destroyRetired(args: {
  path: string;
  retentionMs: number;
  crypto: CryptoProvider;
  clock: Clock;
}): Promise<{ destroyed: number[]; summary: IdentitySummary }> {
  const file = await readIdentityFile(args.path, args.crypto);
  const { file: next, destroyed } = destroyRetiredGenerations(file, {
    clock: args.clock,
    retentionMs: args.retentionMs,
  });
  if (destroyed.length > 0) await writeIdentityFile(args.path, next, { overwrite: true });
  return { destroyed, summary: summarizeIdentity(next) };
}

/** `keys list`: every identity file (format sealpost-identity/v1) in a folder, summarised. */
export async function listIdentities(args: {
  dir: string;
  crypto: CryptoProvider;
}): Promise<{ path: string; summary: IdentitySummary }[]> {
  const out: { path: string; summary: IdentitySummary }[] = [];
  for (const name of (await readdir(args.dir)).sort()) {
    if (!name.endsWith('.json')) continue;
    const path = join(args.dir, name);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      continue;
    }
    if ((json as { format?: unknown } | null)?.format !== 'sealpost-identity/v1') continue;
    out.push({ path, summary: summarizeIdentity(parseIdentityFile(json, args.crypto)) });
  }
  return out;
}

/**
 * The identity files in `dir` wrapped by the KMS key given to list/rewrap (files of other KMS keys
 * are left alone). Destroyed generations hold no wrapped key.
 */
export function identityFilesHolder(args: {
  dir: string;
  crypto: CryptoProvider;
}): WrappedKeyHolder {
  const files = async (kms: Kms): Promise<{ path: string; file: IdentityFile }[]> => {
    const out: { path: string; file: IdentityFile }[] = [];
    for (const { path } of await listIdentitiesIfAny(args)) {
      const file = await readIdentityFile(path, args.crypto);
      if (!sameKmsKey(file.kms, kms.reference)) continue;
      out.push({ path, file });
    }
    return out;
  };
  return {
    async list(kms) {
      return (await files(kms)).flatMap(({ path, file }) => identityFileItems(path, file));
    },
    async rewrap(kms, latestVersion) {
      const done: WrappedKeyItem[] = [];
      for (const { path, file } of await files(kms)) {
        if (identityFileItems(path, file).every((i) => i.version >= latestVersion)) continue;
        const next = await rewrapIdentityFile(file, kms);
        await writeIdentityFile(path, next, { overwrite: true });
        done.push(...identityFileItems(path, next));
      }
      return done;
    },
  };
}

/** listIdentities, or none when the folder does not exist. */
async function listIdentitiesIfAny(args: {
  dir: string;
  crypto: CryptoProvider;
}): Promise<{ path: string; summary: IdentitySummary }[]> {
  try {
    return await listIdentities(args);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The wrapped keys of an identity file, one item per live generation (its lower version). */
function identityFileItems(path: string, file: IdentityFile): WrappedKeyItem[] {
  return file.generations.flatMap((g) => {
    if (g.box.wrappedSecretKey === null || g.sign.wrappedSeed === null) return [];
    const version = Math.min(
      wrappedKeyVersion(g.box.wrappedSecretKey) ?? 0,
      wrappedKeyVersion(g.sign.wrappedSeed) ?? 0,
      ...(g.kem === undefined || g.kem.wrappedSeed === null
        ? []
        : [wrappedKeyVersion(g.kem.wrappedSeed) ?? 0]),
    );
    return [{ what: `identity file ${path} generation ${g.generation}`, version }];
  });
}

/** True when a file's KMS reference names the same KMS key as `reference`. */
export function sameKmsKey(fileReference: IdentityFile['kms'], reference: KmsReference): boolean {
  try {
    assertSameKms(fileReference, reference);
    return true;
  } catch {
    return false;
  }
}

/** Names of the identities in `dir` whose files the KMS key `reference` wraps. */
export async function identitiesWrappedBy(args: {
  dir: string;
  crypto: CryptoProvider;
  reference: KmsReference;
}): Promise<string[]> {
  return (await listIdentitiesIfAny(args))
    .filter((f) => sameKmsKey(f.summary.kms, args.reference))
    .map((f) => f.summary.name);
}

/**
 * `keys rewrap`: optionally rotates the KMS key first, then re-encrypts every key the holders keep
 * (identity files, token-key files, replay-state key records) under the latest version (Transit
 * rewrap: no plaintext leaves the KMS), and optionally raises the KMS key's min_decryption_version to
 * the latest — refused (KMS_REWRAP_INCOMPLETE, naming each) while any key in `inventory` (everything
 * this KMS key wrapped) is still below it, since older wraps become unusable.
 */
export async function rewrapWrappedKeys(args: {
  kms: Kms;
  /** What to rewrap now. */
  holders: readonly WrappedKeyHolder[];
  /** Everything the KMS key wrapped: checked before the minimum is raised. */
  inventory: readonly WrappedKeyHolder[];
  rotateKmsKeyFirst?: boolean;
  raiseMinDecryptionVersion?: boolean;
}): Promise<{ rewrapped: WrappedKeyItem[]; kms: KmsKeyDescription }> {
  const r = await rewrapHolders(args.holders, args.kms, {
    rotateFirst: args.rotateKmsKeyFirst === true,
  });
  const description =
    args.raiseMinDecryptionVersion === true
      ? await raiseMinDecryptionVersion(args.inventory, args.kms)
      : await args.kms.describe();
  return { rewrapped: r.rewrapped, kms: description };
}

/**
 * `keys rewrap NAME` on one identity file (see rewrapWrappedKeys). The minimum is raised only when no
 * identity file in the same folder (and nothing else in `inventory`) is still below it.
 */
export async function rewrapIdentity(args: {
  path: string;
  kms: Kms;
  crypto: CryptoProvider;
  rotateKmsKeyFirst?: boolean;
  raiseMinDecryptionVersion?: boolean;
  /** More holders to rewrap with the file (e.g. the identity's replay-state key records). */
  alsoRewrap?: readonly WrappedKeyHolder[];
  /** Checked before the minimum is raised; default: the identity files in the file's folder. */
  inventory?: readonly WrappedKeyHolder[];
}): Promise<{ summary: IdentitySummary; kms: KmsKeyDescription; rewrapped: WrappedKeyItem[] }> {
  const file = await readIdentityFile(args.path, args.crypto);
  const own: WrappedKeyHolder = {
    list: () => Promise.resolve([]),
    async rewrap(kms) {
      const next = await rewrapIdentityFile(file, kms);
      await writeIdentityFile(args.path, next, { overwrite: true });
      return identityFileItems(args.path, next);
    },
  };
  const r = await rewrapWrappedKeys({
    kms: args.kms,
    holders: [own, ...(args.alsoRewrap ?? [])],
    inventory: args.inventory ?? [
      identityFilesHolder({ dir: dirname(args.path), crypto: args.crypto }),
    ],
    ...(args.rotateKmsKeyFirst === undefined ? {} : { rotateKmsKeyFirst: args.rotateKmsKeyFirst }),
    ...(args.raiseMinDecryptionVersion === undefined
      ? {}
      : { raiseMinDecryptionVersion: args.raiseMinDecryptionVersion }),
  });
  const summary = summarizeIdentity(await readIdentityFile(args.path, args.crypto));
  return { summary, kms: r.kms, rewrapped: r.rewrapped };
}

/** Start-up path of a service: read the identity file and unwrap its keys (one KMS unwrap per key). */
export async function openIdentity(args: {
  path: string;
  kms: Kms;
  crypto: CryptoProvider;
}): Promise<LoadedIdentity> {
  return loadIdentity(await readIdentityFile(args.path, args.crypto), args);
}

// --- directory ---

/** Where a directory is read from and written to: a JSON file, or a compacted Kafka topic. */
export type DirectoryLocation =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'topic'; readonly topic: DirectoryTopicSource };

/** Who may do what, per identity (the authority's input to publish). */
export interface DirectoryGrant {
  /** Path of the identity file (only its public halves are read). */
  readonly identityFile: string;
  readonly sendTopics: readonly string[];
  readonly receiveTopics: readonly string[];
  /** Token field classes the identity may detokenize (src/tokenize); absent or empty for none. */
  readonly detokenizeClasses?: readonly string[];
  /** Topics the identity may sign quarantine releases for (docs/SPEC.md §11); absent or empty for none. */
  readonly releaseTopics?: readonly string[];
  /** Key validity from the generation's creation (default 400 days). */
  readonly validForMs?: number;
}

/** Summary of a validated directory (public values). */
export interface DirectorySummary {
  readonly authorityKid: string;
  readonly epoch: number;
  readonly highestSerial: number;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
  readonly records: readonly {
    readonly identity: string;
    readonly serial: number;
    readonly status: DirectoryStatus;
    readonly boxKid: string;
    readonly signKid: string;
    /** The X-Wing (suite 2) kid, when the record publishes an X-Wing key. */
    readonly kemKid?: string;
    readonly validFromMs: number;
    readonly validUntilMs: number;
    readonly retiredAtMs: number | null;
    readonly sendTopics: readonly string[];
    readonly receiveTopics: readonly string[];
    readonly detokenizeClasses?: readonly string[];
    readonly releaseTopics?: readonly string[];
  }[];
  readonly refused: readonly RefusedEntry[];
}

function summarizeDirectory(s: DirectorySnapshot): DirectorySummary {
  return {
    authorityKid: toHex(s.head.authorityKid),
    epoch: s.head.epoch,
    highestSerial: s.head.highestSerial,
    issuedAtMs: s.head.issuedAtMs,
    expiresAtMs: s.head.expiresAtMs,
    records: s.records.map((r) => ({
      identity: r.identity,
      serial: r.serial,
      status: r.status,
      boxKid: toHex(r.boxKid),
      signKid: toHex(r.signKid),
      ...(r.kemKid === undefined ? {} : { kemKid: toHex(r.kemKid) }),
      validFromMs: r.validFromMs,
      validUntilMs: r.validUntilMs,
      retiredAtMs: r.retiredAtMs,
      sendTopics: r.sendTopics,
      receiveTopics: r.receiveTopics,
      ...(r.detokenizeClasses === undefined ? {} : { detokenizeClasses: r.detokenizeClasses }),
      ...(r.releaseTopics === undefined ? {} : { releaseTopics: r.releaseTopics }),
    })),
    refused: s.refused,
  };
}

function sourceOf(location: DirectoryLocation): DirectorySource {
  if (location.kind === 'topic') return location.topic;
  return { readAll: async () => documentEntries(await readDirectoryDocument(location.path)) };
}

/** Reads and validates the directory at `location`; undefined when a file does not exist yet. */
async function readPrevious(
  location: DirectoryLocation,
  authorityPublicKey: Uint8Array,
  crypto: CryptoProvider,
  clock: Clock,
): Promise<DirectorySnapshot | undefined> {
  if (location.kind === 'file' && !(await exists(location.path))) return undefined;
  const raw = await sourceOf(location).readAll();
  if (location.kind === 'topic' && raw.entries.length === 0) return undefined;
  // The authority re-validates what it publishes over, except expiry: an expired head is renewed here.
  const nowMs = clock.nowMs();
  const head = raw.entries.filter((e) => e.key === 'head').at(-1)?.value as
    { expiresAtMs?: unknown } | undefined;
  const validationNow =
    typeof head?.expiresAtMs === 'number' && head.expiresAtMs <= nowMs
      ? head.expiresAtMs - 1
      : nowMs;
  return validateSnapshot(raw, { crypto, authorityPublicKey, nowMs: validationNow });
}

async function writeDirectory(location: DirectoryLocation, doc: DirectoryDocument): Promise<void> {
  if (location.kind === 'file') await writeDirectoryDocument(location.path, doc);
  else await location.topic.publish(doc);
}

interface AuthorityArgs {
  /** The authority's identity file; its keys are unwrapped with `kms` for the signing and zeroed after. */
  readonly authorityFile: string;
  readonly kms: Kms;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  readonly location: DirectoryLocation;
  /** Head lifetime (default DEFAULT_HEAD_TTL_MS, 4 h): services refuse new sessions once it passes without a re-sign. */
  readonly headTtlMs?: number;
}

async function withAuthority<T>(
  args: AuthorityArgs,
  fn: (authority: LoadedIdentity, previous: DirectorySnapshot | undefined) => Promise<T>,
): Promise<T> {
  const authority = await openIdentity({
    path: args.authorityFile,
    kms: args.kms,
    crypto: args.crypto,
  });
  try {
    if (authority.kind !== 'authority')
      throw new KeyError('KEY_STATE_INVALID', `${args.authorityFile} is not an authority identity`);
    const previous = await readPrevious(
      args.location,
      authority.signingKey().publicKey,
      args.crypto,
      args.clock,
    );
    return await fn(authority, previous);
  } finally {
    authority.close();
  }
}

/** Signs `changes` over `previous`, writes the new version and summarises it as readers will see it. */
async function signAndWrite(
  args: AuthorityArgs,
  authority: LoadedIdentity,
  previous: DirectorySnapshot | undefined,
  changes: DirectoryRecordDraft[],
  nowMs: number,
): Promise<DirectorySummary> {
  const doc = signDirectory({
    crypto: args.crypto,
    authority,
    clock: args.clock,
    headTtlMs: args.headTtlMs ?? DEFAULT_HEAD_TTL_MS,
    previous,
    changes,
  });
  await writeDirectory(args.location, doc);
  return summarizeDirectory(
    validateSnapshot(documentEntries(doc), {
      crypto: args.crypto,
      authorityPublicKey: authority.signingKey().publicKey,
      nowMs,
      previous,
    }),
  );
}

/**
 * `directory publish`: builds records from the identity files and grants (active → active, retiring →
 * retiring with retiredAt, destroyed → revoked), signs a new version over the previous one (unchanged
 * records keep their serial; a revoked record is never brought back) and writes it. Re-running it
 * without changes re-issues the head (same epoch, new expiry): do so before the head expires.
 */
export async function publishDirectory(
  args: AuthorityArgs & { grants: readonly DirectoryGrant[] },
): Promise<DirectorySummary> {
  return withAuthority(args, async (authority, previous) => {
    const changes: DirectoryRecordDraft[] = [];
    for (const grant of args.grants) {
      const file = await readIdentityFile(grant.identityFile, args.crypto);
      if (file.kind !== 'service')
        throw new KeyError('KEY_STATE_INVALID', `${grant.identityFile} is not a service identity`);
      const validForMs = grant.validForMs ?? 400 * 86_400_000;
      for (const g of publicGenerations(file)) {
        const draft: DirectoryRecordDraft = {
          identity: file.name,
          status: g.state === 'destroyed' ? 'revoked' : g.state,
          boxKid: g.boxKid,
          boxPublicKey: g.boxPublicKey,
          signKid: g.signKid,
          signPublicKey: g.signPublicKey,
          validFromMs: g.createdAtMs,
          validUntilMs: g.createdAtMs + validForMs,
          retiredAtMs: g.state === 'active' ? null : (g.retiredAtMs ?? args.clock.nowMs()),
          sendTopics: grant.sendTopics,
          receiveTopics: grant.receiveTopics,
          ...(grant.detokenizeClasses === undefined
            ? {}
            : { detokenizeClasses: grant.detokenizeClasses }),
          ...(grant.releaseTopics === undefined ? {} : { releaseTopics: grant.releaseTopics }),
          ...(g.kemKid === undefined || g.kemPublicKey === undefined
            ? {}
            : { kemKid: g.kemKid, kemPublicKey: g.kemPublicKey }),
        };
        const held = previous?.bySignKid(g.signKid);
        // Revocation is final: keep the revoked record as it is.
        if (held?.status === 'revoked') continue;
        changes.push(draft);
      }
    }
    return signAndWrite(args, authority, previous, changes, args.clock.nowMs());
  });
}

/**
 * `keys revoke`: marks an identity's directory records revoked (all of them, or the one whose signing,
 * box or X-Wing kid is `kid`, hex) and publishes. Revocation is final.
 */
export async function revokeIdentity(
  args: AuthorityArgs & { identity: string; kid?: string },
): Promise<DirectorySummary> {
  return withAuthority(args, async (authority, previous) => {
    if (previous === undefined)
      throw new DirectoryError(
        'DIRECTORY_NOT_LOADED',
        'there is no published directory to revoke in',
      );
    const nowMs = args.clock.nowMs();
    const targets = previous.records.filter(
      (r) =>
        r.identity === args.identity &&
        r.status !== 'revoked' &&
        (args.kid === undefined ||
          toHex(r.signKid) === args.kid ||
          toHex(r.boxKid) === args.kid ||
          (r.kemKid !== undefined && toHex(r.kemKid) === args.kid)),
    );
    if (targets.length === 0)
      throw new KeyError(
        'KEY_NOT_FOUND',
        `no revocable directory record for ${args.identity}${args.kid === undefined ? '' : ` with kid ${args.kid}`}`,
      );
    const changes = targets.map((r): DirectoryRecordDraft => {
      const { serial: _serial, ...rest } = r;
      return { ...rest, status: 'revoked', retiredAtMs: r.retiredAtMs ?? nowMs };
    });
    return signAndWrite(args, authority, previous, changes, nowMs);
  });
}

/**
 * `directory refresh-head`: re-signs the head of the published directory with no record change (same
 * epoch, records and digest; new issue time and expiry). Run it on a schedule well inside the head
 * lifetime (docs/OPERATIONS.md "Directory state"); it also renews an expired head.
 */
export async function refreshDirectoryHead(args: AuthorityArgs): Promise<DirectorySummary> {
  return withAuthority(args, async (authority, previous) => {
    if (previous === undefined)
      throw new DirectoryError(
        'DIRECTORY_NOT_LOADED',
        'there is no published directory to refresh: run `sealpost directory publish` first',
      );
    return signAndWrite(args, authority, previous, [], args.clock.nowMs());
  });
}

/** `directory show`: validates against the pinned authority key and summarises. Throws DirectoryError if invalid. */
export async function showDirectory(args: {
  location: DirectoryLocation;
  authorityPublicKey: Uint8Array;
  crypto: CryptoProvider;
  clock: Clock;
}): Promise<DirectorySummary> {
  const raw = await sourceOf(args.location).readAll();
  return summarizeDirectory(
    validateSnapshot(raw, {
      crypto: args.crypto,
      authorityPublicKey: args.authorityPublicKey,
      nowMs: args.clock.nowMs(),
    }),
  );
}

/**
 * `directory verify`: like show, but never throws for an invalid directory: returns `ok: false` with
 * the code, and fails (ok: false) on any refused entry too.
 */
export async function verifyDirectory(args: {
  location: DirectoryLocation;
  authorityPublicKey: Uint8Array;
  crypto: CryptoProvider;
  clock: Clock;
}): Promise<
  | { ok: true; summary: DirectorySummary }
  | { ok: false; code: string; message: string; refused: readonly RefusedEntry[] }
> {
  try {
    const summary = await showDirectory(args);
    if (summary.refused.length > 0) {
      return {
        ok: false,
        code: summary.refused[0]!.code,
        message: `${summary.refused.length} entries refused`,
        refused: summary.refused,
      };
    }
    return { ok: true, summary };
  } catch (err) {
    if (err instanceof DirectoryError)
      return { ok: false, code: err.code, message: err.message, refused: err.refused };
    throw err;
  }
}

/** The record key of a record summary (for cross-referencing topic entries). */
export function summaryRecordKey(r: { identity: string; signKid: string }): string {
  return recordKeyOf({ identity: r.identity, signKid: Buffer.from(r.signKid, 'hex') });
}

/** Base64 of a public key (for printing pinned values). */
export function publicKeyBase64(pk: Uint8Array): string {
  return toBase64(pk);
}
