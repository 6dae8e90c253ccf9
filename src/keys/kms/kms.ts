/**
 * The KMS port: the narrow interface sealpost needs from a key-management service to protect private
 * keys at rest (Kroxylicious style). Implementations: OpenBao/Vault Transit and a local KEK keyring.
 * Retry and call counting are decorators around this port (retrying-kms.ts, counting-kms.ts), never
 * inside an implementation. The KMS is used at start-up and rotation only, never per message.
 */

/**
 * A wrapped (encrypted) key as stored in identity files: `vault:v<N>:<base64>` (Transit) or
 * `local:v<N>:<base64>` (local keyring). The version tells which KMS key version wrapped it.
 */
export type WrappedKey = string;

/** Which KMS protects a key: stored beside the wrapped keys so a loader can check it is the right one. */
export type KmsReference =
  | {
      readonly kind: 'openbao-transit';
      readonly keyName: string;
      readonly mountPath: string;
      readonly namespace?: string | undefined;
    }
  | { readonly kind: 'local'; readonly keyName: string };

/** Metadata of the KMS key (no key material). */
export interface KmsKeyDescription {
  readonly reference: KmsReference;
  /** The version new wraps use. */
  readonly latestVersion: number;
  /** Wrapped keys below this version are refused (KMS_VERSION_BELOW_MINIMUM). */
  readonly minDecryptionVersion: number;
}

export interface Kms {
  /** Identifies the key this instance wraps with (no secret in it). */
  readonly reference: KmsReference;
  /** Encrypts `plaintext` under the latest key version. Does not keep or modify `plaintext`. */
  wrap(plaintext: Uint8Array): Promise<WrappedKey>;
  /** Decrypts a wrapped key; the caller owns (and must zero) the returned buffer. */
  unwrap(wrapped: WrappedKey): Promise<Uint8Array>;
  /** Re-encrypts under the latest version without the plaintext leaving the KMS. */
  rewrap(wrapped: WrappedKey): Promise<WrappedKey>;
  /** Adds a new key version; new wraps use it, old versions still unwrap down to the minimum. */
  rotate(): Promise<KmsKeyDescription>;
  describe(): Promise<KmsKeyDescription>;
  /** Raises (never lowers) the minimum decryption version: wrapped keys below it become unusable. */
  setMinDecryptionVersion(version: number): Promise<KmsKeyDescription>;
  /** Stops timers (token renewal) and releases resources; later calls fail with KMS_CLOSED. */
  close(): Promise<void>;
}

/** Parses the key version out of a wrapped key (`<prefix>:v<N>:...`); undefined if malformed. */
export function wrappedKeyVersion(wrapped: WrappedKey): number | undefined {
  const m = /^(?:vault|local):v([1-9][0-9]{0,8}):/.exec(wrapped);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
