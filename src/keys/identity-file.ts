import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { CryptoProvider } from '../crypto/provider.js';
import {
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SEED_BYTES,
  X25519_PUBLIC_KEY_BYTES,
  X25519_SECRET_KEY_BYTES,
  XWING_PUBLIC_KEY_BYTES,
  XWING_SEED_BYTES,
} from '../crypto/provider.js';
import type { Clock } from '../runtime/clock.js';
import { fromBase64, fromHex, toBase64, toHex } from './bytes.js';
import type { LoadedKeyGeneration, UnwrappedKeyPair } from './identity.js';
import { assertIdentityName, IDENTITY_NAME_PATTERN, LoadedIdentity } from './identity.js';
import { KeyError } from './key-error.js';
import { computeKid, KID_BYTES } from './kid.js';
import type { Kms, KmsReference } from './kms/kms.js';
import { assertPrivateFile, PrivateFileError, writePrivateFile } from './private-file.js';
import { kmsReferenceSchema } from './kms/kms-reference-schema.js';

const wrapped = z
  .string()
  .min(8)
  .max(16_384)
  .regex(/^(vault|local):v[1-9][0-9]{0,8}:/);
const hexKid = z.string().regex(/^[0-9a-f]{32}$/);
const b64 = z.string().max(100);
/** Base64 of an X-Wing public key (1,216 bytes → 1,624 characters). */
const b64Kem = z.string().max(1700);

const generationSchema = z
  .object({
    generation: z.number().int().min(1),
    state: z.enum(['active', 'retiring', 'destroyed']),
    createdAtMs: z.number().int().min(0),
    retiredAtMs: z.number().int().min(0).nullable(),
    destroyedAtMs: z.number().int().min(0).nullable(),
    box: z.object({ kid: hexKid, publicKey: b64, wrappedSecretKey: wrapped.nullable() }).strict(),
    sign: z.object({ kid: hexKid, publicKey: b64, wrappedSeed: wrapped.nullable() }).strict(),
    /**
     * The X-Wing key pair (suite 2): its 32-byte seed wrapped by the KMS. Optional: files written
     * before suite 2, and generations created without it, have none (suite 1 only).
     */
    kem: z
      .object({ kid: hexKid, publicKey: b64Kem, wrappedSeed: wrapped.nullable() })
      .strict()
      .optional(),
  })
  .strict();

const identityFileSchema = z
  .object({
    format: z.literal('sealpost-identity/v1'),
    name: z.string().regex(IDENTITY_NAME_PATTERN),
    kind: z.enum(['service', 'authority']),
    createdAtMs: z.number().int().min(0),
    kms: kmsReferenceSchema,
    generations: z.array(generationSchema).min(1).max(1000),
  })
  .strict();

/**
 * The identity file (JSON, mode 0600): only wrapped private keys, public keys, kids, the KMS reference
 * and timestamps. Generations: one `active`, older ones `retiring`, and `destroyed` ones whose
 * wrapped private keys have been removed (crypto-shredding) but whose public halves stay for audit.
 */
export type IdentityFile = z.infer<typeof identityFileSchema>;
/** One key generation in an identity file. */
export type IdentityFileGeneration = z.infer<typeof generationSchema>;

/** Checks structure and internal consistency (kids match public keys, states); throws KEY_FILE_INVALID. */
export function parseIdentityFile(json: unknown, crypto: CryptoProvider): IdentityFile {
  const parsed = identityFileSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new KeyError('KEY_FILE_INVALID', `identity file is not valid (at: ${where})`);
  }
  const file = parsed.data;
  const seen = new Set<number>();
  let active = 0;
  for (const g of file.generations) {
    if (seen.has(g.generation))
      throw new KeyError('KEY_FILE_INVALID', `identity file repeats generation ${g.generation}`);
    seen.add(g.generation);
    if (g.state === 'active') active++;
    const destroyed = g.state === 'destroyed';
    if (
      destroyed !== (g.box.wrappedSecretKey === null) ||
      destroyed !== (g.sign.wrappedSeed === null) ||
      (g.kem !== undefined && destroyed !== (g.kem.wrappedSeed === null)) ||
      destroyed !== (g.destroyedAtMs !== null)
    ) {
      throw new KeyError(
        'KEY_FILE_INVALID',
        `generation ${g.generation}: wrapped keys must be present exactly when not destroyed`,
      );
    }
    if ((g.state === 'active') !== (g.retiredAtMs === null)) {
      throw new KeyError(
        'KEY_FILE_INVALID',
        `generation ${g.generation}: retiredAtMs must be set exactly when not active`,
      );
    }
    const boxPk = fromBase64(g.box.publicKey, X25519_PUBLIC_KEY_BYTES);
    const signPk = fromBase64(g.sign.publicKey, ED25519_PUBLIC_KEY_BYTES);
    if (
      toHex(computeKid(crypto, 'x25519', boxPk)) !== g.box.kid ||
      toHex(computeKid(crypto, 'ed25519', signPk)) !== g.sign.kid
    ) {
      throw new KeyError(
        'KEY_FILE_INVALID',
        `generation ${g.generation}: a kid does not match its public key`,
      );
    }
    if (g.kem !== undefined) {
      const kemPk = fromBase64(g.kem.publicKey, XWING_PUBLIC_KEY_BYTES);
      if (toHex(computeKid(crypto, 'xwing', kemPk)) !== g.kem.kid)
        throw new KeyError(
          'KEY_FILE_INVALID',
          `generation ${g.generation}: the X-Wing kid does not match its public key`,
        );
    }
  }
  if (active !== 1)
    throw new KeyError('KEY_FILE_INVALID', 'identity file must have exactly one active generation');
  return file;
}

/** Reads and validates an identity file; refuses one readable by group or others. */
export async function readIdentityFile(
  path: string,
  crypto: CryptoProvider,
): Promise<IdentityFile> {
  try {
    await assertPrivateFile(path);
  } catch (err) {
    throw mapFileError(err);
  }
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new KeyError('KEY_FILE_INVALID', `identity file ${path} is not JSON`, { cause: err });
  }
  return parseIdentityFile(json, crypto);
}

/** Writes an identity file atomically with mode 0600. */
export async function writeIdentityFile(
  path: string,
  file: IdentityFile,
  options: { overwrite: boolean },
): Promise<void> {
  try {
    await writePrivateFile(path, `${JSON.stringify(file, null, 2)}\n`, !options.overwrite);
  } catch (err) {
    throw mapFileError(err);
  }
}

function mapFileError(err: unknown): KeyError {
  if (err instanceof PrivateFileError) {
    const code =
      err.problem === 'insecure'
        ? 'KEY_FILE_INSECURE'
        : err.problem === 'not-found'
          ? 'KEY_FILE_NOT_FOUND'
          : err.problem === 'exists'
            ? 'KEY_FILE_EXISTS'
            : 'KEY_FILE_INVALID';
    return new KeyError(code, err.message);
  }
  return new KeyError('KEY_FILE_INVALID', 'identity file I/O failed', { cause: err });
}

export interface GenerateOptions {
  readonly crypto: CryptoProvider;
  readonly kms: Kms;
  readonly clock: Clock;
}

/** Whether a new generation gets an X-Wing key pair (suite 2) besides its X25519 and Ed25519 ones. */
export interface KemChoice {
  readonly xwing?: boolean;
}

/** Generates a keypair generation and wraps its private halves (2 KMS wraps, 3 with X-Wing). */
async function newGeneration(
  generation: number,
  options: GenerateOptions & KemChoice,
): Promise<IdentityFileGeneration> {
  const { crypto, kms, clock } = options;
  const box = crypto.boxKeyPair();
  const sign = crypto.signKeyPair();
  const seed = sign.secretKey.subarray(0, ED25519_SEED_BYTES);
  const kemSeed = options.xwing === true ? crypto.randomBytes(XWING_SEED_BYTES) : undefined;
  const kem = kemSeed === undefined ? undefined : crypto.xwingKeyPairFromSeed(kemSeed);
  try {
    const wrappedSecretKey = await kms.wrap(box.secretKey);
    const wrappedSeed = await kms.wrap(seed);
    const wrappedKemSeed = kemSeed === undefined ? undefined : await kms.wrap(kemSeed);
    return {
      generation,
      state: 'active',
      createdAtMs: clock.nowMs(),
      retiredAtMs: null,
      destroyedAtMs: null,
      box: {
        kid: toHex(computeKid(crypto, 'x25519', box.publicKey)),
        publicKey: toBase64(box.publicKey),
        wrappedSecretKey,
      },
      sign: {
        kid: toHex(computeKid(crypto, 'ed25519', sign.publicKey)),
        publicKey: toBase64(sign.publicKey),
        wrappedSeed,
      },
      ...(kem === undefined || wrappedKemSeed === undefined
        ? {}
        : {
            kem: {
              kid: toHex(computeKid(crypto, 'xwing', kem.publicKey)),
              publicKey: toBase64(kem.publicKey),
              wrappedSeed: wrappedKemSeed,
            },
          }),
    };
  } finally {
    crypto.memzero(box.secretKey);
    crypto.memzero(sign.secretKey);
    if (kemSeed !== undefined) crypto.memzero(kemSeed);
    if (kem !== undefined) crypto.memzero(kem.secretKey);
  }
}

/**
 * Creates a new identity (one active generation), returning the file content to store. With
 * `xwing: true` (service identities) the generation also gets an X-Wing key pair.
 */
export async function generateIdentityFile(
  name: string,
  kind: 'service' | 'authority',
  options: GenerateOptions & KemChoice,
): Promise<IdentityFile> {
  assertIdentityName(name);
  return {
    format: 'sealpost-identity/v1',
    name,
    kind,
    createdAtMs: options.clock.nowMs(),
    kms: copyReference(options.kms.reference),
    generations: [await newGeneration(1, options)],
  };
}

/**
 * Rotation with overlap: a new active generation; the previous active one becomes `retiring` (it
 * still opens, peers stop sealing to it once the directory says so) with retiredAtMs = now. The new
 * generation gets an X-Wing key pair when `xwing` is true or the active one has one (a rotation never
 * drops suite 2); `xwing: true` is how an existing identity gains X-Wing keys.
 */
export async function rotateIdentityFile(
  file: IdentityFile,
  options: GenerateOptions & KemChoice,
): Promise<IdentityFile> {
  assertSameKms(file.kms, options.kms.reference);
  const nowMs = options.clock.nowMs();
  const next = Math.max(...file.generations.map((g) => g.generation)) + 1;
  const activeHasKem = file.generations.some((g) => g.state === 'active' && g.kem !== undefined);
  const fresh = await newGeneration(next, {
    ...options,
    xwing: options.xwing === true || activeHasKem,
  });
  return {
    ...file,
    generations: [
      fresh,
      ...file.generations.map((g) =>
        g.state === 'active' ? { ...g, state: 'retiring' as const, retiredAtMs: nowMs } : g,
      ),
    ],
  };
}

/**
 * Crypto-shredding: removes the wrapped private keys of generations retired at least `retentionMs`
 * ago. Public keys and kids stay (for audit). Returns the new file and the generations destroyed.
 * The caller must also destroy old copies (backups) and, for Transit, may raise min_decryption_version.
 */
export function destroyRetiredGenerations(
  file: IdentityFile,
  options: { clock: Clock; retentionMs: number },
): { file: IdentityFile; destroyed: number[] } {
  if (!Number.isInteger(options.retentionMs) || options.retentionMs < 0) {
    throw new KeyError('KEY_STATE_INVALID', 'retentionMs must be a non-negative integer');
  }
  const nowMs = options.clock.nowMs();
  const destroyed: number[] = [];
  const generations = file.generations.map((g): IdentityFileGeneration => {
    if (
      g.state !== 'retiring' ||
      g.retiredAtMs === null ||
      g.retiredAtMs + options.retentionMs > nowMs
    )
      return g;
    destroyed.push(g.generation);
    return {
      ...g,
      state: 'destroyed',
      destroyedAtMs: nowMs,
      box: { ...g.box, wrappedSecretKey: null },
      sign: { ...g.sign, wrappedSeed: null },
      // The X-Wing seed is shredded with the rest: suite-2 slots to this generation no longer open.
      ...(g.kem === undefined ? {} : { kem: { ...g.kem, wrappedSeed: null } }),
    };
  });
  return { file: { ...file, generations }, destroyed };
}

/** Re-encrypts every wrapped key under the KMS key's latest version (Transit rewrap: no plaintext leaves). */
export async function rewrapIdentityFile(file: IdentityFile, kms: Kms): Promise<IdentityFile> {
  assertSameKms(file.kms, kms.reference);
  const generations: IdentityFileGeneration[] = [];
  for (const g of file.generations) {
    if (g.box.wrappedSecretKey === null || g.sign.wrappedSeed === null) {
      generations.push(g);
      continue;
    }
    generations.push({
      ...g,
      box: { ...g.box, wrappedSecretKey: await kms.rewrap(g.box.wrappedSecretKey) },
      sign: { ...g.sign, wrappedSeed: await kms.rewrap(g.sign.wrappedSeed) },
      ...(g.kem === undefined || g.kem.wrappedSeed === null
        ? {}
        : { kem: { ...g.kem, wrappedSeed: await kms.rewrap(g.kem.wrappedSeed) } }),
    });
  }
  return { ...file, generations };
}

/**
 * Unwraps the identity's private keys into memory: exactly one KMS unwrap per key (two per live
 * generation, three with an X-Wing seed), none afterwards. Each derived public key must equal the stored one (KEY_MISMATCH),
 * so a swapped wrapped key is caught at start-up. On any failure everything unwrapped so far is zeroed.
 */
export async function loadIdentity(
  file: IdentityFile,
  options: { crypto: CryptoProvider; kms: Kms },
): Promise<LoadedIdentity> {
  const { crypto, kms } = options;
  assertSameKms(file.kms, kms.reference);
  const loaded: LoadedKeyGeneration[] = [];
  const secrets: Uint8Array[] = [];
  try {
    for (const g of file.generations) {
      if (g.state === 'destroyed' || g.box.wrappedSecretKey === null || g.sign.wrappedSeed === null)
        continue;
      const boxSecret = await kms.unwrap(g.box.wrappedSecretKey);
      secrets.push(boxSecret);
      const seed = await kms.unwrap(g.sign.wrappedSeed);
      secrets.push(seed);
      if (boxSecret.length !== X25519_SECRET_KEY_BYTES || seed.length !== ED25519_SEED_BYTES) {
        throw new KeyError(
          'KEY_BAD_LENGTH',
          `generation ${g.generation}: unwrapped key has the wrong length`,
        );
      }
      const signPair = crypto.signKeyPairFromSeed(seed);
      secrets.push(signPair.secretKey);
      const box: UnwrappedKeyPair = {
        kid: fromHex(g.box.kid, KID_BYTES),
        publicKey: crypto.boxPublicKeyFromSecret(boxSecret),
        secretKey: boxSecret,
      };
      const sign: UnwrappedKeyPair = {
        kid: fromHex(g.sign.kid, KID_BYTES),
        publicKey: signPair.publicKey,
        secretKey: signPair.secretKey,
      };
      if (
        !crypto.equalConstantTime(
          box.publicKey,
          fromBase64(g.box.publicKey, X25519_PUBLIC_KEY_BYTES),
        ) ||
        !crypto.equalConstantTime(
          sign.publicKey,
          fromBase64(g.sign.publicKey, ED25519_PUBLIC_KEY_BYTES),
        )
      ) {
        throw new KeyError(
          'KEY_MISMATCH',
          `identity ${file.name} generation ${g.generation}: unwrapped key does not match its public key`,
        );
      }
      crypto.memzero(seed);
      let kem: UnwrappedKeyPair | undefined;
      if (g.kem !== undefined && g.kem.wrappedSeed !== null) {
        const kemSeed = await kms.unwrap(g.kem.wrappedSeed);
        secrets.push(kemSeed);
        if (kemSeed.length !== XWING_SEED_BYTES)
          throw new KeyError(
            'KEY_BAD_LENGTH',
            `generation ${g.generation}: unwrapped X-Wing seed has the wrong length`,
          );
        const pair = crypto.xwingKeyPairFromSeed(kemSeed);
        // The pair's secretKey is a copy of the seed: keep ours, zero the copy.
        crypto.memzero(pair.secretKey);
        if (
          !crypto.equalConstantTime(
            pair.publicKey,
            fromBase64(g.kem.publicKey, XWING_PUBLIC_KEY_BYTES),
          )
        )
          throw new KeyError(
            'KEY_MISMATCH',
            `identity ${file.name} generation ${g.generation}: unwrapped X-Wing seed does not match its public key`,
          );
        kem = {
          kid: fromHex(g.kem.kid, KID_BYTES),
          publicKey: pair.publicKey,
          secretKey: kemSeed,
        };
      }
      loaded.push({
        generation: g.generation,
        state: g.state,
        createdAtMs: g.createdAtMs,
        retiredAtMs: g.retiredAtMs,
        box,
        sign,
        ...(kem === undefined ? {} : { kem }),
      });
    }
    return new LoadedIdentity(file.name, file.kind, loaded, crypto);
  } catch (err) {
    for (const s of secrets) crypto.memzero(s);
    throw err;
  }
}

/** Public view of a generation (no wrapped keys), decoded. */
export interface PublicKeyGeneration {
  readonly generation: number;
  readonly state: 'active' | 'retiring' | 'destroyed';
  readonly createdAtMs: number;
  readonly retiredAtMs: number | null;
  readonly boxKid: Uint8Array;
  readonly boxPublicKey: Uint8Array;
  readonly signKid: Uint8Array;
  readonly signPublicKey: Uint8Array;
  /** The X-Wing key (suite 2), when the generation has one. */
  readonly kemKid?: Uint8Array;
  readonly kemPublicKey?: Uint8Array;
}

/** The public halves of every generation (for publishing to the directory). */
export function publicGenerations(file: IdentityFile): PublicKeyGeneration[] {
  return file.generations.map((g) => ({
    generation: g.generation,
    state: g.state,
    createdAtMs: g.createdAtMs,
    retiredAtMs: g.retiredAtMs,
    boxKid: fromHex(g.box.kid, KID_BYTES),
    boxPublicKey: fromBase64(g.box.publicKey, X25519_PUBLIC_KEY_BYTES),
    signKid: fromHex(g.sign.kid, KID_BYTES),
    signPublicKey: fromBase64(g.sign.publicKey, ED25519_PUBLIC_KEY_BYTES),
    ...(g.kem === undefined
      ? {}
      : {
          kemKid: fromHex(g.kem.kid, KID_BYTES),
          kemPublicKey: fromBase64(g.kem.publicKey, XWING_PUBLIC_KEY_BYTES),
        }),
  }));
}

function copyReference(ref: KmsReference): IdentityFile['kms'] {
  return ref.kind === 'local'
    ? { kind: 'local', keyName: ref.keyName }
    : {
        kind: 'openbao-transit',
        keyName: ref.keyName,
        mountPath: ref.mountPath,
        ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
      };
}

/** The KMS given must be the one that wrapped the file's keys (kind, key name, mount, namespace). */
export function assertSameKms(fileRef: IdentityFile['kms'], kmsRef: KmsReference): void {
  const a = JSON.stringify(copyReference(fileRef));
  const b = JSON.stringify(copyReference(kmsRef));
  if (a !== b)
    throw new KeyError(
      'KEY_KMS_MISMATCH',
      `identity file was wrapped by ${a}, not by the configured KMS ${b}`,
    );
}
