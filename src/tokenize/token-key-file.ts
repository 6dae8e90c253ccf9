/**
 * The token-key file (JSON, mode 0600): per field class, versioned 32-byte class keys wrapped by the
 * KMS (like identity private keys), each with a check value binding it to its (class, version). The
 * newest version tokenizes; every version kept still detokenizes (rotation = add a version).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { CryptoProvider } from '../crypto/provider.js';
import { assertSameKms } from '../keys/identity-file.js';
import { TOKEN_CLASS_PATTERN } from '../keys/directory/directory-record.js';
import type { Kms } from '../keys/kms/kms.js';
import { assertPrivateFile, PrivateFileError, writePrivateFile } from '../keys/private-file.js';
import type { Clock } from '../runtime/clock.js';
import { classKeyCheck, TOKEN_CLASS_KEY_BYTES, TokenClassKey } from './token-cipher.js';
import { TokenKeyring } from './token-keyring.js';
import { TokenizeError } from './tokenize-error.js';
import { kmsReferenceSchema } from '../keys/kms/kms-reference-schema.js';

const versionSchema = z
  .object({
    version: z.number().int().min(1).max(0x7fffffff),
    createdAtMs: z.number().int().min(0),
    wrappedKey: z
      .string()
      .min(8)
      .max(16_384)
      .regex(/^(vault|local):v[1-9][0-9]{0,8}:/),
    check: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict();

const tokenKeyFileSchema = z
  .object({
    format: z.literal('sealpost-token-keys/v1'),
    kms: kmsReferenceSchema,
    classes: z
      .array(
        z
          .object({
            class: z.string().regex(TOKEN_CLASS_PATTERN),
            versions: z.array(versionSchema).min(1).max(10_000),
          })
          .strict(),
      )
      .max(1024),
  })
  .strict();

/** The token-key file (wrapped class keys only). */
export type TokenKeyFile = z.infer<typeof tokenKeyFileSchema>;

/** What the file operations need. */
export interface TokenKeyContext {
  readonly kms: Kms;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
}

/** Parses and checks a token-key file (unique classes and versions); TOKEN_KEY_FILE_INVALID otherwise. */
export function parseTokenKeyFile(json: unknown): TokenKeyFile {
  const p = tokenKeyFileSchema.safeParse(json);
  if (!p.success) {
    throw new TokenizeError(
      'TOKEN_KEY_FILE_INVALID',
      `token-key file is not valid (at: ${p.error.issues
        .map((i) => i.path.join('.') || '(root)')
        .slice(0, 5)
        .join(', ')})`,
    );
  }
  const seen = new Set<string>();
  for (const c of p.data.classes) {
    if (seen.has(c.class))
      throw new TokenizeError('TOKEN_KEY_FILE_INVALID', `token-key file repeats class ${c.class}`);
    seen.add(c.class);
    const versions = new Set<number>();
    for (const v of c.versions) {
      if (versions.has(v.version))
        throw new TokenizeError(
          'TOKEN_KEY_FILE_INVALID',
          `class ${c.class} repeats version ${v.version}`,
        );
      versions.add(v.version);
    }
  }
  return p.data;
}

/** Reads a token-key file (refusing one readable by group or others). */
export async function readTokenKeyFile(path: string): Promise<TokenKeyFile> {
  try {
    await assertPrivateFile(path);
    return parseTokenKeyFile(JSON.parse(await readFile(path, 'utf8')));
  } catch (err) {
    if (err instanceof TokenizeError) throw err;
    const why = err instanceof PrivateFileError ? err.message : 'cannot read or parse it';
    throw new TokenizeError('TOKEN_KEY_FILE_INVALID', `token-key file ${path}: ${why}`, {
      cause: err,
    });
  }
}

/** Writes the file atomically with mode 0600. */
export async function writeTokenKeyFile(
  path: string,
  file: TokenKeyFile,
  options: { mustNotExist?: boolean } = {},
): Promise<void> {
  try {
    await writePrivateFile(
      path,
      `${JSON.stringify(parseTokenKeyFile(file), null, 2)}\n`,
      options.mustNotExist ?? false,
    );
  } catch (err) {
    if (err instanceof TokenizeError) throw err;
    throw new TokenizeError(
      'TOKEN_KEY_FILE_INVALID',
      `cannot write token-key file ${path}: ${err instanceof Error ? err.message : 'error'}`,
      { cause: err },
    );
  }
}

async function newVersion(
  ctx: TokenKeyContext,
  tokenClass: string,
  version: number,
): Promise<TokenKeyFile['classes'][number]['versions'][number]> {
  const key = ctx.crypto.randomBytes(TOKEN_CLASS_KEY_BYTES);
  try {
    return {
      version,
      createdAtMs: ctx.clock.nowMs(),
      wrappedKey: await ctx.kms.wrap(key),
      check: Buffer.from(classKeyCheck(ctx.crypto, tokenClass, version, key)).toString('hex'),
    };
  } finally {
    ctx.crypto.memzero(key);
  }
}

/** A new (in-memory) token-key file with version 1 of each class. */
export async function generateTokenKeyFile(
  classes: readonly string[],
  ctx: TokenKeyContext,
): Promise<TokenKeyFile> {
  let file: TokenKeyFile = {
    format: 'sealpost-token-keys/v1',
    kms: { ...ctx.kms.reference },
    classes: [],
  };
  for (const c of classes) file = await addTokenClass(file, c, ctx);
  return file;
}

/** Adds a class (version 1). TOKEN_KEY_FILE_INVALID if it exists or the name is not a class name. */
export async function addTokenClass(
  file: TokenKeyFile,
  tokenClass: string,
  ctx: TokenKeyContext,
): Promise<TokenKeyFile> {
  if (!TOKEN_CLASS_PATTERN.test(tokenClass))
    throw new TokenizeError('TOKEN_KEY_FILE_INVALID', `invalid token class "${tokenClass}"`);
  if (file.classes.some((c) => c.class === tokenClass))
    throw new TokenizeError('TOKEN_KEY_FILE_INVALID', `class ${tokenClass} exists already`);
  sameKms(file, ctx.kms);
  return {
    ...file,
    classes: [
      ...file.classes,
      { class: tokenClass, versions: [await newVersion(ctx, tokenClass, 1)] },
    ],
  };
}

/** Rotates a class: adds version max+1 (new tokens use it; old versions still detokenize). */
export async function rotateTokenClass(
  file: TokenKeyFile,
  tokenClass: string,
  ctx: TokenKeyContext,
): Promise<{ file: TokenKeyFile; version: number }> {
  sameKms(file, ctx.kms);
  const entry = file.classes.find((c) => c.class === tokenClass);
  if (entry === undefined)
    throw new TokenizeError('TOKEN_CLASS_UNKNOWN', `no token class ${tokenClass}`);
  const version = Math.max(...entry.versions.map((v) => v.version)) + 1;
  const fresh = await newVersion(ctx, tokenClass, version);
  return {
    version,
    file: {
      ...file,
      classes: file.classes.map((c) =>
        c.class === tokenClass ? { ...c, versions: [...c.versions, fresh] } : c,
      ),
    },
  };
}

/**
 * Unwraps every class key (once, at start-up) into a keyring; each unwrapped key must match its check
 * value. With `classes`, only those classes are unwrapped (least privilege inside the process).
 */
export async function loadTokenKeyring(
  file: TokenKeyFile,
  options: { kms: Kms; crypto: CryptoProvider; classes?: readonly string[] },
): Promise<TokenKeyring> {
  sameKms(file, options.kms);
  const keys: TokenClassKey[] = [];
  try {
    for (const c of file.classes) {
      if (options.classes !== undefined && !options.classes.includes(c.class)) continue;
      for (const v of c.versions) {
        const key = await options.kms.unwrap(v.wrappedKey);
        try {
          if (key.length !== TOKEN_CLASS_KEY_BYTES)
            throw new TokenizeError(
              'TOKEN_KEY_FILE_INVALID',
              `class ${c.class} v${v.version}: wrong key length`,
            );
          const check = classKeyCheck(options.crypto, c.class, v.version, key);
          if (!options.crypto.equalConstantTime(check, Buffer.from(v.check, 'hex'))) {
            throw new TokenizeError(
              'TOKEN_KEY_FILE_INVALID',
              `class ${c.class} v${v.version}: the key does not match its check value`,
            );
          }
          keys.push(new TokenClassKey(options.crypto, c.class, v.version, key));
        } finally {
          options.crypto.memzero(key);
        }
      }
    }
  } catch (err) {
    for (const k of keys) k.zero();
    throw err;
  }
  return new TokenKeyring(keys);
}

/** Reads the file at `path` and loads its keyring. */
export async function openTokenKeyring(args: {
  path: string;
  kms: Kms;
  crypto: CryptoProvider;
  classes?: readonly string[];
}): Promise<TokenKeyring> {
  return loadTokenKeyring(await readTokenKeyFile(args.path), args);
}

function sameKms(file: TokenKeyFile, kms: Kms): void {
  try {
    assertSameKms(file.kms, kms.reference);
  } catch (err) {
    throw new TokenizeError(
      'TOKEN_KEY_FILE_INVALID',
      'the token-key file was wrapped by another KMS key',
      { cause: err },
    );
  }
}
