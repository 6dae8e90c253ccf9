import { readFile } from 'node:fs/promises';
import type NodeVault from 'node-vault';
import type { Clock } from '../../runtime/clock.js';
import type { Kms, KmsKeyDescription, KmsReference, WrappedKey } from './kms.js';
import { wrappedKeyVersion } from './kms.js';
import { KmsError } from './kms-error.js';
import type { KmsErrorCode } from './kms-error.js';

/** How the Transit client authenticates. Secrets are given by value here; entry points read them from files. */
export type TransitAuth =
  | { readonly method: 'token'; readonly token: string }
  | {
      readonly method: 'approle';
      readonly roleId: string;
      readonly secretId: string;
      /** Auth mount path (default `approle`). */
      readonly mountPath?: string;
    };

export interface OpenBaoTransitKmsOptions {
  /** Base address, e.g. `https://vault.example:8200`. */
  readonly endpoint: string;
  /** Transit key name. */
  readonly keyName: string;
  /** Transit mount path (default `transit`). */
  readonly mountPath?: string;
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
  readonly namespace?: string;
  readonly auth: TransitAuth;
  /** PEM file of the CA that signed the server certificate (TLS). */
  readonly caFile?: string;
  readonly clock: Clock;
  /** Per-request timeout (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /** Renew the token when this fraction of its TTL has passed (default 0.66). */
  readonly renewFraction?: number;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MOUNT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/;
const MAX_PLAINTEXT_BYTES = 4096;
/** Node/OpenSSL error codes of a failed certificate verification. */
const TLS_FAILURES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

type VaultClient = NodeVault.client & { pathPrefix: string; namespace: string | undefined };

/**
 * node-vault, loaded by the first Transit KMS made (not with the package): a process on the local
 * key file never loads it, and its ≈ 3.6 MB of live heap (docs/PERFORMANCE.md, "Issue 18, sixth
 * round") is then not marked by every full collection of a busy consumer.
 */
let nodeVault: Promise<typeof NodeVault> | undefined;
const loadNodeVault = (): Promise<typeof NodeVault> =>
  (nodeVault ??= import('node-vault').then((m) => m.default));

interface TokenState {
  /** Clock time after which the token is no longer valid; undefined = no expiry (ttl 0). */
  readonly expiresAtMs: number | undefined;
  readonly ttlMs: number;
  readonly renewable: boolean;
}

/**
 * Vault / OpenBao Transit as the KMS (the only importer of node-vault). wrap = transit encrypt,
 * unwrap = decrypt, rewrap = rewrap (plaintext never leaves the KMS), rotate = keys/<name>/rotate,
 * describe = key metadata, setMinDecryptionVersion = keys/<name>/config.
 *
 * Auth: a token (looked up to learn its TTL) or AppRole (login). The token is renewed in the
 * background at `renewFraction` of its TTL (unref'd timer, cleared on close; a transient failure is
 * retried while the token is valid) and synchronously before a call if the injected clock says it is
 * about to expire; an AppRole token that can no longer be renewed
 * is replaced by a fresh login, and a 403 with AppRole triggers one re-login and one retry.
 *
 * Errors are typed; no token, plaintext or server message text goes into them (server texts are mapped
 * to codes). Transient failures are retriable; retries belong to the RetryingKms decorator.
 */
export class OpenBaoTransitKms implements Kms {
  readonly reference: KmsReference;
  readonly #client: VaultClient;
  readonly #options: OpenBaoTransitKmsOptions;
  readonly #keyPath: string;
  readonly #mount: string;
  readonly #renewFraction: number;
  #token: TokenState | undefined;
  #authInFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    options: OpenBaoTransitKmsOptions,
    ca: string | undefined,
    makeClient: typeof NodeVault,
  ) {
    this.#options = options;
    this.#mount = options.mountPath ?? 'transit';
    this.#keyPath = encodeURIComponent(options.keyName);
    this.#renewFraction = options.renewFraction ?? 0.66;
    this.reference = {
      kind: 'openbao-transit',
      keyName: options.keyName,
      mountPath: this.#mount,
      ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
    };
    const timeout = options.requestTimeoutMs ?? 5000;
    // Everything explicit: node-vault otherwise falls back to VAULT_* environment variables, and its
    // debug logger would print request bodies (plaintext keys) when DEBUG is set.
    const config = {
      endpoint: options.endpoint,
      apiVersion: 'v1',
      debug: () => undefined,
      rpDefaults: { strictSSL: true, timeout },
      requestOptions: { timeout, ...(ca === undefined ? {} : { ca }) },
    } as NodeVault.VaultOptions;
    const client = makeClient(config) as VaultClient;
    client.token = '';
    client.pathPrefix = '';
    client.namespace = options.namespace;
    this.#client = client;
  }

  /** Validates the options, reads the CA file, and builds the client (no network call yet). */
  static async create(options: OpenBaoTransitKmsOptions): Promise<OpenBaoTransitKms> {
    const problems: string[] = [];
    let url: URL | undefined;
    try {
      url = new URL(options.endpoint);
    } catch {
      problems.push('endpoint is not a URL');
    }
    if (url !== undefined && url.protocol !== 'http:' && url.protocol !== 'https:')
      problems.push('endpoint must be http(s)');
    if (!NAME_PATTERN.test(options.keyName)) problems.push('keyName is invalid');
    if (options.mountPath !== undefined && !MOUNT_PATTERN.test(options.mountPath))
      problems.push('mountPath is invalid');
    if (options.namespace !== undefined && !MOUNT_PATTERN.test(options.namespace))
      problems.push('namespace is invalid');
    if (options.auth.method === 'token' && options.auth.token.length === 0)
      problems.push('token is empty');
    if (
      options.auth.method === 'approle' &&
      (options.auth.roleId.length === 0 || options.auth.secretId.length === 0)
    ) {
      problems.push('AppRole roleId and secretId are required');
    }
    const f = options.renewFraction;
    if (f !== undefined && !(f > 0 && f < 1)) problems.push('renewFraction must be in (0, 1)');
    if (problems.length > 0)
      throw new KmsError('KMS_CONFIG_INVALID', `Transit KMS options: ${problems.join('; ')}`);
    let ca: string | undefined;
    if (options.caFile !== undefined) {
      try {
        ca = await readFile(options.caFile, 'utf8');
      } catch (err) {
        throw new KmsError(
          'KMS_CONFIG_INVALID',
          `cannot read the Transit CA file ${options.caFile}`,
          { cause: err },
        );
      }
    }
    return new OpenBaoTransitKms(options, ca, await loadNodeVault());
  }

  async wrap(plaintext: Uint8Array): Promise<WrappedKey> {
    if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
      throw new KmsError(
        'KMS_REQUEST_REJECTED',
        `Transit KMS wraps 1..${MAX_PLAINTEXT_BYTES} bytes`,
      );
    }
    const b64 = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.length).toString(
      'base64',
    );
    const data = await this.#call('wrap', 'POST', `${this.#mount}/encrypt/${this.#keyPath}`, {
      plaintext: b64,
    });
    return this.#ciphertextFrom(data, 'wrap');
  }

  async unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    this.#checkWrapped(wrapped);
    const data = await this.#call('unwrap', 'POST', `${this.#mount}/decrypt/${this.#keyPath}`, {
      ciphertext: wrapped,
    });
    const b64 = field(data, 'plaintext');
    if (typeof b64 !== 'string')
      throw new KmsError('KMS_BAD_RESPONSE', 'Transit decrypt answered without a plaintext');
    const buf = Buffer.from(b64, 'base64');
    const out = new Uint8Array(buf);
    buf.fill(0);
    return out;
  }

  async rewrap(wrapped: WrappedKey): Promise<WrappedKey> {
    this.#checkWrapped(wrapped);
    const data = await this.#call('rewrap', 'POST', `${this.#mount}/rewrap/${this.#keyPath}`, {
      ciphertext: wrapped,
    });
    return this.#ciphertextFrom(data, 'rewrap');
  }

  async rotate(): Promise<KmsKeyDescription> {
    await this.#call('rotate', 'POST', `${this.#mount}/keys/${this.#keyPath}/rotate`, {});
    return this.describe();
  }

  async describe(): Promise<KmsKeyDescription> {
    const data = await this.#call('describe', 'GET', `${this.#mount}/keys/${this.#keyPath}`);
    const latest = field(data, 'latest_version');
    const min = field(data, 'min_decryption_version');
    if (!isPositiveInt(latest) || !isPositiveInt(min)) {
      throw new KmsError(
        'KMS_BAD_RESPONSE',
        'Transit key metadata lacks latest_version/min_decryption_version',
      );
    }
    return { reference: this.reference, latestVersion: latest, minDecryptionVersion: min };
  }

  async setMinDecryptionVersion(version: number): Promise<KmsKeyDescription> {
    const current = await this.describe();
    if (!Number.isInteger(version) || version < 1 || version > current.latestVersion) {
      throw new KmsError(
        'KMS_REQUEST_REJECTED',
        'min decryption version must be between 1 and the latest version',
      );
    }
    // Transit would accept a lower value; lowering would resurrect keys meant to be unusable.
    if (version < current.minDecryptionVersion) {
      throw new KmsError('KMS_REQUEST_REJECTED', 'min decryption version can only be raised');
    }
    await this.#call(
      'setMinDecryptionVersion',
      'POST',
      `${this.#mount}/keys/${this.#keyPath}/config`,
      {
        min_decryption_version: version,
      },
    );
    return this.describe();
  }

  /** Creates the Transit key if it does not exist (idempotent); for operators and tests. */
  async ensureKey(): Promise<KmsKeyDescription> {
    await this.#call('ensureKey', 'POST', `${this.#mount}/keys/${this.#keyPath}`, {});
    return this.describe();
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#client.token = '';
    return Promise.resolve();
  }

  // --- requests and error mapping ---

  async #call(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    body?: object,
  ): Promise<unknown> {
    if (this.#closed) throw new KmsError('KMS_CLOSED', 'Transit KMS is closed');
    await this.#ensureToken();
    try {
      return await this.#raw(operation, method, path, body);
    } catch (err) {
      // An AppRole token may have expired under us (e.g. the process slept): log in again, once.
      if (
        err instanceof KmsError &&
        err.code === 'KMS_PERMISSION_DENIED' &&
        this.#options.auth.method === 'approle'
      ) {
        this.#token = undefined;
        await this.#ensureToken();
        return await this.#raw(operation, method, path, body);
      }
      throw err;
    }
  }

  async #raw(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    body?: object,
  ): Promise<unknown> {
    try {
      const res: unknown =
        method === 'GET'
          ? await this.#client.read(path)
          : await this.#client.write(path, body ?? {});
      return field(res, 'data') ?? res;
    } catch (err) {
      throw this.#mapError(operation, err);
    }
  }

  #mapError(operation: string, err: unknown): KmsError {
    const what = `Transit ${operation} on key "${this.#options.keyName}" at ${this.#options.endpoint}`;
    const response = (err as { response?: { statusCode?: unknown; body?: unknown } } | null)
      ?.response;
    const status = typeof response?.statusCode === 'number' ? response.statusCode : undefined;
    if (status === undefined) {
      const netCode = (err as { code?: unknown } | null)?.code;
      const c =
        typeof netCode === 'string' && /^[A-Z_]{3,40}$/.test(netCode) ? netCode : 'network error';
      // A certificate the CA file does not vouch for will not fix itself: fail closed, not retriable.
      if (TLS_FAILURES.has(c)) {
        return new KmsError(
          'KMS_TLS_FAILED',
          `${what}: TLS verification failed (${c}); check caFile`,
          { cause: sanitizeCause(err) },
        );
      }
      return new KmsError('KMS_UNAVAILABLE', `${what}: unreachable (${c})`, {
        cause: sanitizeCause(err),
      });
    }
    const errors = field(response?.body, 'errors');
    const text = Array.isArray(errors)
      ? errors
          .filter((e): e is string => typeof e === 'string')
          .join(' ')
          .toLowerCase()
      : '';
    const make = (code: KmsErrorCode, detail: string): KmsError =>
      new KmsError(code, `${what}: ${detail} (HTTP ${status})`, { httpStatus: status });
    if (status === 429) return make('KMS_RATE_LIMITED', 'rate limited');
    if (text.includes('sealed')) return make('KMS_SEALED', 'the server is sealed');
    if (status >= 500) return make('KMS_UNAVAILABLE', 'server error');
    if (status === 403) return make('KMS_PERMISSION_DENIED', 'permission denied');
    if (status === 404 || text.includes('key not found'))
      return make('KMS_KEY_NOT_FOUND', 'key not found');
    if (text.includes('too old') || text.includes('disallowed by policy')) {
      return make(
        'KMS_VERSION_BELOW_MINIMUM',
        'ciphertext version is below min_decryption_version',
      );
    }
    if (
      text.includes('ciphertext') ||
      text.includes('authentication failed') ||
      text.includes('decrypt')
    ) {
      return make('KMS_BAD_CIPHERTEXT', 'ciphertext refused');
    }
    if (
      text.includes('invalid role') ||
      text.includes('secret id') ||
      text.includes('invalid secret')
    ) {
      return make('KMS_AUTH_FAILED', 'login refused');
    }
    return make('KMS_REQUEST_REJECTED', 'request refused');
  }

  #checkWrapped(wrapped: WrappedKey): void {
    if (
      !wrapped.startsWith('vault:') ||
      wrappedKeyVersion(wrapped) === undefined ||
      wrapped.length > 16_384
    ) {
      throw new KmsError('KMS_BAD_CIPHERTEXT', 'not a Transit wrapped key (vault:vN:...)');
    }
  }

  #ciphertextFrom(data: unknown, operation: string): WrappedKey {
    const ct = field(data, 'ciphertext');
    if (typeof ct !== 'string' || wrappedKeyVersion(ct) === undefined || !ct.startsWith('vault:')) {
      throw new KmsError(
        'KMS_BAD_RESPONSE',
        `Transit ${operation} answered without a vault:vN: ciphertext`,
      );
    }
    return ct;
  }

  // --- token lifecycle ---

  async #ensureToken(): Promise<void> {
    const t = this.#token;
    if (
      t !== undefined &&
      (t.expiresAtMs === undefined ||
        this.#options.clock.nowMs() < t.expiresAtMs - t.ttlMs * (1 - this.#renewFraction))
    ) {
      return;
    }
    this.#authInFlight ??= (t === undefined ? this.#login() : this.#refresh()).finally(() => {
      this.#authInFlight = undefined;
    });
    await this.#authInFlight;
  }

  async #login(): Promise<void> {
    const auth = this.#options.auth;
    if (auth.method === 'token') {
      this.#client.token = auth.token;
      const data = await this.#raw('token lookup', 'GET', 'auth/token/lookup-self');
      const ttl = field(data, 'ttl');
      const renewable = field(data, 'renewable') === true;
      this.#setToken(typeof ttl === 'number' ? ttl : 0, renewable);
      return;
    }
    this.#client.token = '';
    const mount = auth.mountPath ?? 'approle';
    let res: unknown;
    try {
      res = await this.#client.write(`auth/${mount}/login`, {
        role_id: auth.roleId,
        secret_id: auth.secretId,
      });
    } catch (err) {
      const mapped = this.#mapError('AppRole login', err);
      // A refused login is an authentication failure, not an authorisation one.
      if (mapped.code === 'KMS_PERMISSION_DENIED' || mapped.code === 'KMS_REQUEST_REJECTED') {
        throw new KmsError('KMS_AUTH_FAILED', mapped.message, {
          ...(mapped.httpStatus === undefined ? {} : { httpStatus: mapped.httpStatus }),
        });
      }
      throw mapped;
    }
    const authBlock = field(res, 'auth');
    const token = field(authBlock, 'client_token');
    const lease = field(authBlock, 'lease_duration');
    if (typeof token !== 'string' || token.length === 0)
      throw new KmsError('KMS_BAD_RESPONSE', 'AppRole login answered without a token');
    this.#client.token = token;
    this.#setToken(typeof lease === 'number' ? lease : 0, field(authBlock, 'renewable') === true);
  }

  /** Renews the token; an AppRole token that cannot be renewed (any more) is replaced by a new login. */
  async #refresh(): Promise<void> {
    const t = this.#token;
    if (t?.renewable === true) {
      try {
        const res: unknown = await this.#client.write('auth/token/renew-self', {});
        const authBlock = field(res, 'auth');
        const lease = field(authBlock, 'lease_duration');
        const ttlSeconds = typeof lease === 'number' ? lease : 0;
        // Renewal capped by max TTL: a lease shorter than a third of the old one is not worth
        // keeping for AppRole; a fresh login gives a full TTL.
        if (!(this.#options.auth.method === 'approle' && ttlSeconds * 1000 < t.ttlMs / 3)) {
          this.#setToken(ttlSeconds, field(authBlock, 'renewable') === true);
          return;
        }
      } catch (err) {
        const mapped = this.#mapError('token renewal', err);
        if (mapped.retriable || this.#options.auth.method === 'token') throw mapped;
      }
    }
    if (this.#options.auth.method === 'approle') {
      await this.#login();
      return;
    }
    // A non-renewable static token: nothing to do; calls will fail with KMS_PERMISSION_DENIED once it expires.
    if (t !== undefined) this.#token = { ...t, expiresAtMs: undefined };
  }

  #setToken(ttlSeconds: number, renewable: boolean): void {
    const ttlMs = Math.max(0, ttlSeconds) * 1000;
    this.#token = {
      expiresAtMs: ttlMs === 0 ? undefined : this.#options.clock.nowMs() + ttlMs,
      ttlMs,
      renewable,
    };
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (ttlMs > 0 && !this.#closed && (renewable || this.#options.auth.method === 'approle'))
      this.#scheduleRenewal(Math.max(50, Math.floor(ttlMs * this.#renewFraction)));
  }

  /**
   * Renews in the background after `delayMs` (unref'd timer). A renewal that fails transiently is
   * tried again while the token is still valid (every quarter of what is left, at most 5 s apart): a
   * service may make no KMS call for hours, so waiting for the next call would let the token lapse. A
   * refusal is not retried here; it surfaces on the next call.
   */
  #scheduleRenewal(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#authInFlight ??= this.#refresh().finally(() => {
        this.#authInFlight = undefined;
      });
      this.#authInFlight.catch((err: unknown) => {
        const t = this.#token;
        if (this.#closed || !(err instanceof KmsError) || !err.retriable) return;
        if (t?.expiresAtMs === undefined || this.#timer !== undefined) return;
        const left = t.expiresAtMs - this.#options.clock.nowMs();
        if (left > 0) this.#scheduleRenewal(Math.max(50, Math.min(5_000, Math.floor(left / 4))));
      });
    }, delayMs);
    this.#timer.unref();
  }
}

function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null
    ? (obj as Record<string, unknown>)[name]
    : undefined;
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** Keeps only the network error code: an axios error carries the request config (token header, body). */
function sanitizeCause(err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  return new Error(typeof code === 'string' ? code : 'network error');
}
