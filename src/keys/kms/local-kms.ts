import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { CryptoProvider } from '../../crypto/provider.js';
import { AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES } from '../../crypto/provider.js';
import type { Clock } from '../../runtime/clock.js';
import { ByteWriter, fromBase64, label, toBase64 } from '../bytes.js';
import { assertPrivateFile, exists, PrivateFileError, writePrivateFile } from '../private-file.js';
import type { Kms, KmsKeyDescription, KmsReference, WrappedKey } from './kms.js';
import { wrappedKeyVersion } from './kms.js';
import { KmsError } from './kms-error.js';

/** Name of the key (binds every wrap to this keyring, via the AAD). */
const KEY_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** The largest plaintext the local KMS wraps: private keys are 32 to 64 bytes. */
const MAX_PLAINTEXT_BYTES = 4096;

const keyringSchema = z
  .object({
    format: z.literal('sealpost-local-kek/v1'),
    keyName: z.string().regex(KEY_NAME_PATTERN),
    minDecryptionVersion: z.number().int().min(1),
    versions: z
      .array(
        z
          .object({
            version: z.number().int().min(1).max(999_999_999),
            key: z.string(),
            createdAtMs: z.number().int().min(0),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
type KeyringJson = z.infer<typeof keyringSchema>;

export interface LocalKmsOptions {
  /** Path of the keyring file (JSON, mode 0600). */
  readonly path: string;
  readonly crypto: CryptoProvider;
  readonly clock: Clock;
  /** Create the keyring (version 1) when the file does not exist. Default false. */
  readonly create?: boolean;
  /** Key name recorded in a new keyring (default `sealpost-local`); bound into every wrap. */
  readonly keyName?: string;
}

interface KeyVersion {
  readonly version: number;
  readonly key: Uint8Array;
  readonly createdAtMs: number;
}

/**
 * The embedded KMS: a keyring file of 32-byte key-encryption keys (one per version) wrapping with
 * XChaCha20-Poly1305. Wrapped form: `local:v<N>:` + base64(nonce[24] ‖ ct‖tag); the AAD binds
 * `L(local-kms-wrap) ‖ u32 N ‖ u16 |keyName| ‖ keyName`, so a wrap cannot be moved to another version
 * or keyring. The file is written with mode 0600 and refused if group or others may read it.
 */
export class LocalKms implements Kms {
  readonly reference: KmsReference;
  readonly #path: string;
  readonly #crypto: CryptoProvider;
  readonly #clock: Clock;
  readonly #keyName: string;
  #versions: KeyVersion[];
  #minDecryptionVersion: number;
  #closed = false;

  private constructor(
    path: string,
    crypto: CryptoProvider,
    clock: Clock,
    ring: { keyName: string; min: number; versions: KeyVersion[] },
  ) {
    this.#path = path;
    this.#crypto = crypto;
    this.#clock = clock;
    this.#keyName = ring.keyName;
    this.#versions = ring.versions;
    this.#minDecryptionVersion = ring.min;
    this.reference = { kind: 'local', keyName: ring.keyName };
  }

  /** Opens (or, with `create`, creates) a keyring file. */
  static async open(options: LocalKmsOptions): Promise<LocalKms> {
    const { path, crypto, clock } = options;
    let present: boolean;
    try {
      present = await exists(path);
    } catch (err) {
      throw fileError('stat', err);
    }
    if (!present) {
      if (options.create !== true) {
        throw new KmsError(
          'KMS_CONFIG_INVALID',
          `local KMS keyring ${path} does not exist (create it first)`,
        );
      }
      const keyName = options.keyName ?? 'sealpost-local';
      if (!KEY_NAME_PATTERN.test(keyName))
        throw new KmsError('KMS_CONFIG_INVALID', 'local KMS key name is invalid');
      const kms = new LocalKms(path, crypto, clock, {
        keyName,
        min: 1,
        versions: [
          { version: 1, key: crypto.randomBytes(AEAD_KEY_BYTES), createdAtMs: clock.nowMs() },
        ],
      });
      await kms.#persist(true);
      return kms;
    }
    try {
      await assertPrivateFile(path);
    } catch (err) {
      throw fileError('stat', err);
    }
    let json: KeyringJson;
    try {
      json = keyringSchema.parse(JSON.parse(await readFile(path, 'utf8')));
    } catch (err) {
      if (err instanceof KmsError) throw err;
      throw new KmsError(
        'KMS_CONFIG_INVALID',
        `local KMS keyring ${path} is not a valid keyring file`,
      );
    }
    const versions: KeyVersion[] = [];
    for (const v of json.versions) {
      let key: Uint8Array;
      try {
        key = fromBase64(v.key, AEAD_KEY_BYTES);
      } catch {
        throw new KmsError(
          'KMS_CONFIG_INVALID',
          `local KMS keyring ${path}: version ${v.version} is not a 32-byte key`,
        );
      }
      versions.push({ version: v.version, key, createdAtMs: v.createdAtMs });
    }
    versions.sort((a, b) => a.version - b.version);
    for (let i = 0; i < versions.length; i++) {
      if (versions[i]!.version !== i + 1) {
        throw new KmsError(
          'KMS_CONFIG_INVALID',
          `local KMS keyring ${path}: versions must be 1..N without gaps`,
        );
      }
    }
    if (json.minDecryptionVersion > versions.length) {
      throw new KmsError(
        'KMS_CONFIG_INVALID',
        `local KMS keyring ${path}: minDecryptionVersion above the latest version`,
      );
    }
    return new LocalKms(path, crypto, clock, {
      keyName: json.keyName,
      min: json.minDecryptionVersion,
      versions,
    });
  }

  wrap(plaintext: Uint8Array): Promise<WrappedKey> {
    return Promise.resolve().then(() => {
      this.#assertOpen();
      if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
        throw new KmsError(
          'KMS_REQUEST_REJECTED',
          `local KMS wraps 1..${MAX_PLAINTEXT_BYTES} bytes`,
        );
      }
      return this.#wrapWith(this.#latest(), plaintext);
    });
  }

  unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    return Promise.resolve().then(() => this.#unwrapSync(wrapped));
  }

  rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    return Promise.resolve().then(() => {
      const plaintext = this.#unwrapSync(wrapped);
      try {
        return this.#wrapWith(this.#latest(), plaintext);
      } finally {
        this.#crypto.memzero(plaintext);
      }
    });
  }

  async rotate(): Promise<KmsKeyDescription> {
    this.#assertOpen();
    const next: KeyVersion = {
      version: this.#latest().version + 1,
      key: this.#crypto.randomBytes(AEAD_KEY_BYTES),
      createdAtMs: this.#clock.nowMs(),
    };
    const before = this.#versions;
    this.#versions = [...before, next];
    try {
      await this.#persist(false);
    } catch (err) {
      this.#versions = before;
      this.#crypto.memzero(next.key);
      throw err;
    }
    return this.#description();
  }

  describe(): Promise<KmsKeyDescription> {
    return Promise.resolve().then(() => {
      this.#assertOpen();
      return this.#description();
    });
  }

  async setMinDecryptionVersion(version: number): Promise<KmsKeyDescription> {
    this.#assertOpen();
    if (!Number.isInteger(version) || version < 1 || version > this.#latest().version) {
      throw new KmsError(
        'KMS_REQUEST_REJECTED',
        'min decryption version must be between 1 and the latest version',
      );
    }
    if (version < this.#minDecryptionVersion) {
      throw new KmsError('KMS_REQUEST_REJECTED', 'min decryption version can only be raised');
    }
    const before = this.#minDecryptionVersion;
    this.#minDecryptionVersion = version;
    try {
      await this.#persist(false);
    } catch (err) {
      this.#minDecryptionVersion = before;
      throw err;
    }
    return this.#description();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const v of this.#versions) this.#crypto.memzero(v.key);
      this.#versions = [];
    }
    return Promise.resolve();
  }

  #description(): KmsKeyDescription {
    return {
      reference: this.reference,
      latestVersion: this.#latest().version,
      minDecryptionVersion: this.#minDecryptionVersion,
    };
  }

  #latest(): KeyVersion {
    const last = this.#versions[this.#versions.length - 1];
    if (last === undefined) throw new KmsError('KMS_CLOSED', 'local KMS is closed');
    return last;
  }

  #assertOpen(): void {
    if (this.#closed) throw new KmsError('KMS_CLOSED', 'local KMS is closed');
  }

  #aad(version: number): Uint8Array {
    return new ByteWriter()
      .bytes(label('local-kms-wrap'))
      .u32(version)
      .str16(this.#keyName)
      .finish();
  }

  #wrapWith(v: KeyVersion, plaintext: Uint8Array): WrappedKey {
    const body = new Uint8Array(AEAD_NONCE_BYTES + plaintext.length + AEAD_TAG_BYTES);
    const nonce = body.subarray(0, AEAD_NONCE_BYTES);
    this.#crypto.randomFill(nonce);
    this.#crypto.aeadEncrypt(
      body.subarray(AEAD_NONCE_BYTES),
      plaintext,
      this.#aad(v.version),
      nonce,
      v.key,
    );
    return `local:v${v.version}:${toBase64(body)}`;
  }

  #unwrapSync(wrapped: WrappedKey): Uint8Array {
    this.#assertOpen();
    const version = wrappedKeyVersion(wrapped);
    if (version === undefined || !wrapped.startsWith('local:')) {
      throw new KmsError('KMS_BAD_CIPHERTEXT', 'not a local KMS wrapped key');
    }
    let body: Uint8Array;
    try {
      body = fromBase64(wrapped.slice(wrapped.indexOf(':', 6) + 1));
    } catch {
      throw new KmsError('KMS_BAD_CIPHERTEXT', 'local KMS wrapped key is not valid base64');
    }
    if (
      body.length <= AEAD_NONCE_BYTES + AEAD_TAG_BYTES ||
      body.length > AEAD_NONCE_BYTES + AEAD_TAG_BYTES + MAX_PLAINTEXT_BYTES
    ) {
      throw new KmsError('KMS_BAD_CIPHERTEXT', 'local KMS wrapped key has a bad length');
    }
    if (version < this.#minDecryptionVersion) {
      throw new KmsError(
        'KMS_VERSION_BELOW_MINIMUM',
        `wrapped key version ${version} is below the minimum decryption version ${this.#minDecryptionVersion}`,
      );
    }
    const v = this.#versions[version - 1];
    if (v === undefined)
      throw new KmsError('KMS_KEY_NOT_FOUND', `local KMS key version ${version} does not exist`);
    const out = new Uint8Array(body.length - AEAD_NONCE_BYTES - AEAD_TAG_BYTES);
    const ok = this.#crypto.aeadDecrypt(
      out,
      body.subarray(AEAD_NONCE_BYTES),
      this.#aad(version),
      body.subarray(0, AEAD_NONCE_BYTES),
      v.key,
    );
    if (!ok) {
      this.#crypto.memzero(out);
      throw new KmsError('KMS_BAD_CIPHERTEXT', 'local KMS wrapped key does not authenticate');
    }
    return out;
  }

  /** Writes the keyring atomically (temp file with mode 0600, then rename). */
  async #persist(mustNotExist: boolean): Promise<void> {
    const json: KeyringJson = {
      format: 'sealpost-local-kek/v1',
      keyName: this.#keyName,
      minDecryptionVersion: this.#minDecryptionVersion,
      versions: this.#versions.map((v) => ({
        version: v.version,
        key: toBase64(v.key),
        createdAtMs: v.createdAtMs,
      })),
    };
    try {
      await writePrivateFile(this.#path, `${JSON.stringify(json, null, 2)}\n`, mustNotExist);
    } catch (err) {
      throw fileError('write', err);
    }
  }
}

function fileError(op: string, err: unknown): KmsError {
  if (err instanceof PrivateFileError) {
    return new KmsError(
      err.problem === 'insecure' ? 'KMS_KEY_FILE_INSECURE' : 'KMS_CONFIG_INVALID',
      `local KMS: ${err.message}`,
    );
  }
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
  return new KmsError('KMS_CONFIG_INVALID', `local KMS file ${op} failed (${code})`, {
    cause: err,
  });
}
