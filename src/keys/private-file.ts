import { constants as fsConstants } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { SealpostError, type ErrorCodeTable } from '../errors.js';

/** Why a private file operation failed; callers turn it into their own typed error. */
export type PrivateFileProblem = 'insecure' | 'not-found' | 'exists' | 'io';

/** The codes of PrivateFileError, one per problem (callers usually map them to KeyError/KmsError). */
export const PRIVATE_FILE_ERROR_CODES = {
  PRIVATE_FILE_INSECURE: 'no',
  PRIVATE_FILE_NOT_FOUND: 'no',
  PRIVATE_FILE_EXISTS: 'no',
  PRIVATE_FILE_IO_FAILED: 'no',
} as const satisfies ErrorCodeTable;
export type PrivateFileErrorCode = keyof typeof PRIVATE_FILE_ERROR_CODES;

const CODE_OF: Readonly<Record<PrivateFileProblem, PrivateFileErrorCode>> = {
  insecure: 'PRIVATE_FILE_INSECURE',
  'not-found': 'PRIVATE_FILE_NOT_FOUND',
  exists: 'PRIVATE_FILE_EXISTS',
  io: 'PRIVATE_FILE_IO_FAILED',
};

/** A failure of a private-file helper (mapped to KeyError/KmsError by callers). */
export class PrivateFileError extends SealpostError {
  declare readonly code: PrivateFileErrorCode;
  constructor(
    readonly problem: PrivateFileProblem,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(CODE_OF[problem], message, options);
  }
}

/** Refuses a key file that group or others may access (like ssh does with private keys). */
export async function assertPrivateFile(path: string): Promise<void> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PrivateFileError(
      code === 'ENOENT' ? 'not-found' : 'io',
      `cannot stat ${path} (${code ?? 'error'})`,
      { cause: err },
    );
  }
  if ((mode & 0o077) !== 0) {
    throw new PrivateFileError(
      'insecure',
      `key file ${path} is accessible by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
}

/**
 * Writes `text` to `path` with mode 0600 through a temporary file, fsync and rename (atomic on POSIX:
 * a reader sees the old or the new file, never half of one). With `mustNotExist`, refuses to replace.
 */
export async function writePrivateFile(
  path: string,
  text: string,
  mustNotExist: boolean,
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const handle = await open(
      tmp,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
      0o600,
    );
    try {
      await handle.chmod(0o600);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (mustNotExist && (await exists(path))) {
      throw new PrivateFileError('exists', `refusing to overwrite existing file ${path}`);
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (err instanceof PrivateFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new PrivateFileError('io', `cannot write ${path} (${code ?? 'error'})`, { cause: err });
  }
}

/** True if something exists at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
