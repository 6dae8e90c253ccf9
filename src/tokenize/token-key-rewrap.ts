/**
 * The token-key files in a folder (format sealpost-token-keys/v1) as a holder of KMS-wrapped keys:
 * listed and rewrapped with everything else a KMS key wrapped (docs/OPERATIONS.md, key lifecycle
 * step 7). Files wrapped by another KMS key are left alone.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sameKmsKey } from '../keys/operations.js';
import { wrappedKeyVersion } from '../keys/kms/kms.js';
import type { WrappedKeyHolder, WrappedKeyItem } from '../keys/kms/wrapped-key-inventory.js';
import { readTokenKeyFile, writeTokenKeyFile, type TokenKeyFile } from './token-key-file.js';

/** Paths of the token-key files in `dir` (other JSON files are skipped). */
async function tokenKeyFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    try {
      const json = JSON.parse(await readFile(path, 'utf8')) as { format?: unknown } | null;
      if (json?.format === 'sealpost-token-keys/v1') out.push(path);
    } catch {
      // not JSON: not a token-key file
    }
  }
  return out;
}

function items(path: string, file: TokenKeyFile): WrappedKeyItem[] {
  return file.classes.flatMap((c) =>
    c.versions.map((v) => ({
      what: `token-key file ${path} class ${c.class} key v${v.version}`,
      version: wrappedKeyVersion(v.wrappedKey) ?? 0,
    })),
  );
}

/** Every token-key file in `dir` wrapped by the KMS key given to list/rewrap. */
export function tokenKeyFilesHolder(dir: string): WrappedKeyHolder {
  const files = async (
    reference: Parameters<typeof sameKmsKey>[1],
  ): Promise<{ path: string; file: TokenKeyFile }[]> => {
    const out: { path: string; file: TokenKeyFile }[] = [];
    for (const path of await tokenKeyFiles(dir)) {
      const file = await readTokenKeyFile(path);
      if (sameKmsKey(file.kms, reference)) out.push({ path, file });
    }
    return out;
  };
  return {
    async list(kms) {
      return (await files(kms.reference)).flatMap(({ path, file }) => items(path, file));
    },
    async rewrap(kms, latestVersion) {
      const done: WrappedKeyItem[] = [];
      for (const { path, file } of await files(kms.reference)) {
        if (items(path, file).every((i) => i.version >= latestVersion)) continue;
        const next: TokenKeyFile = {
          ...file,
          classes: await Promise.all(
            file.classes.map(async (c) => ({
              ...c,
              versions: await Promise.all(
                c.versions.map(async (v) =>
                  (wrappedKeyVersion(v.wrappedKey) ?? 0) >= latestVersion
                    ? v
                    : { ...v, wrappedKey: await kms.rewrap(v.wrappedKey) },
                ),
              ),
            })),
          ),
        };
        await writeTokenKeyFile(path, next);
        done.push(...items(path, next));
      }
      return done;
    },
  };
}
