/**
 * A client for a Confluent-compatible Schema Registry (Confluent, or Apicurio 3 at
 * `/apis/ccompat/v7`), Avro only, with a safe decoder.
 *
 * It speaks the REST API directly over an injected `fetch` rather than through
 * @kafkajs/confluent-schema-registry 3.9, because that library (a) decodes with plain avsc — the
 * hostile-Avro hole this module closes; (b) reports a refused connection as an HTTP 400 response
 * (mappersmith's client-error convention), so a transient outage cannot be told from a bad request
 * without matching message text; (c) does not expose the exact schema text the registry returns,
 * which the envelope's schema fingerprint is computed over; (d) reads `GET /config/{subject}` before
 * registering and throws when the level differs (the Apicurio quirk). Here compatibility is set
 * explicitly with `PUT /config/{subject}` before registering.
 */
import { invalidArgument } from '../errors.js';
import { AvroCodec } from './avro-codec.js';
import { DEFAULT_AVRO_LIMITS, type AvroLimits } from './avro-binary-validator.js';
import { AvroDecodeError, AvroSchemaError } from './avro-errors.js';
import {
  CONFLUENT_HEADER_BYTES,
  decodeConfluentFrame,
  writeConfluentHeader,
} from './confluent-wire-format.js';
import { RegistryError, type RegistryErrorCode } from './registry-error.js';

/** Subject compatibility levels of the Confluent API. */
export type Compatibility =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

const COMPATIBILITY_LEVELS: ReadonlySet<string> = new Set([
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
]);

/** The subset of the WHATWG fetch the client needs (Node's global `fetch` fits). */
export type FetchFunction = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

/** Options of {@link SchemaRegistryClient}. */
export interface SchemaRegistryClientOptions {
  /** Base URL of the Confluent API, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`. */
  readonly url: string;
  /** The HTTP client (pass `globalThis.fetch` at the composition root; tests pass their own). */
  readonly fetch: FetchFunction;
  /** Per-request timeout in ms; a timeout is REGISTRY_UNAVAILABLE (retriable). Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** HTTP Basic credentials (never logged, never in errors). */
  readonly basicAuth?: { readonly username: string; readonly password: string };
  /** Schemas kept by id (least recently used evicted). Default 1000. */
  readonly maxCachedSchemas?: number;
  /** Largest registry answer accepted, in bytes. Default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** Decoding limits for payloads (see avro-binary-validator.ts). */
  readonly limits?: Partial<AvroLimits>;
}

/** A writer schema as the registry returned it. */
export interface RegisteredSchema {
  readonly id: number;
  /**
   * The schema text exactly as the registry returned it for this id — the envelope's
   * `schemaFp = H16(L("schema") ‖ text)` is computed over its UTF-8 bytes.
   */
  readonly text: string;
  /** The codec for this schema (decoding with limits). */
  readonly codec: AvroCodec;
}

/** A decoded Confluent-framed payload. */
export interface DecodedPayload {
  readonly schemaId: number;
  readonly value: unknown;
  /** The writer schema the payload names. */
  readonly schema: RegisteredSchema;
}

type Json = Record<string, unknown>;

/** See the module comment. Safe to share; caches writer schemas by id. */
export class SchemaRegistryClient {
  readonly #baseUrl: string;
  readonly #fetch: FetchFunction;
  readonly #timeoutMs: number;
  readonly #authHeader: string | undefined;
  readonly #maxCached: number;
  readonly #maxResponseBytes: number;
  readonly #limits: AvroLimits;
  readonly #schemas = new Map<number, RegisteredSchema>();
  readonly #inflight = new Map<number, Promise<RegisteredSchema>>();

  constructor(options: SchemaRegistryClientOptions) {
    this.#baseUrl = options.url.replace(/\/+$/, '');
    this.#fetch = options.fetch;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#authHeader =
      options.basicAuth === undefined
        ? undefined
        : `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`, 'utf8').toString('base64')}`;
    this.#maxCached = Math.max(1, options.maxCachedSchemas ?? 1000);
    this.#maxResponseBytes = options.maxResponseBytes ?? 1_048_576;
    this.#limits = { ...DEFAULT_AVRO_LIMITS, ...options.limits };
  }

  /**
   * Registers an Avro schema under `subject` (setting the subject's compatibility first, default
   * BACKWARD) and returns its id. Registering the same schema again returns the same id. The schema
   * is parsed locally first, so an invalid one fails with AvroSchemaError before any request.
   */
  async register(
    subject: string,
    schemaText: string,
    options: { readonly compatibility?: Compatibility } = {},
  ): Promise<number> {
    AvroCodec.parse(schemaText, { limits: this.#limits });
    const compatibility = options.compatibility ?? 'BACKWARD';
    // Set before registering (Apicurio and Confluent both accept a config for a subject that has no
    // versions yet). Some registries only know subjects that exist: then set it right after.
    let configured = true;
    try {
      await this.setCompatibility(subject, compatibility);
    } catch (err) {
      if (!(err instanceof RegistryError) || err.code !== 'SUBJECT_NOT_FOUND') throw err;
      configured = false;
    }
    const answer = await this.#request(
      'POST',
      `/subjects/${encodeURIComponent(subject)}/versions`,
      'SUBJECT_NOT_FOUND',
      {
        schema: schemaText,
      },
    );
    const id = answer.id;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
      throw new RegistryError(
        'REGISTRY_RESPONSE_INVALID',
        `register ${subject}: the answer has no valid id`,
      );
    }
    if (!configured) await this.setCompatibility(subject, compatibility);
    return id;
  }

  /** Sets the subject's compatibility level (`PUT /config/{subject}`). */
  async setCompatibility(subject: string, level: Compatibility): Promise<void> {
    if (!COMPATIBILITY_LEVELS.has(level))
      throw invalidArgument('compatibility level is not one the registry knows');
    await this.#request('PUT', `/config/${encodeURIComponent(subject)}`, 'SUBJECT_NOT_FOUND', {
      compatibility: level,
    });
  }

  /** The subject's own compatibility level, or undefined when it has none (`GET /config/{subject}` 404). */
  async getCompatibility(subject: string): Promise<Compatibility | undefined> {
    try {
      const answer = await this.#request(
        'GET',
        `/config/${encodeURIComponent(subject)}`,
        'SUBJECT_NOT_FOUND',
      );
      const level = answer.compatibilityLevel ?? answer.compatibility;
      if (typeof level !== 'string' || !COMPATIBILITY_LEVELS.has(level.toUpperCase())) {
        throw new RegistryError(
          'REGISTRY_RESPONSE_INVALID',
          `config ${subject}: no compatibility level in the answer`,
        );
      }
      return level.toUpperCase() as Compatibility;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'SUBJECT_NOT_FOUND') return undefined;
      throw err;
    }
  }

  /** The id of the subject's latest version. */
  async latestSchemaId(subject: string): Promise<number> {
    const answer = await this.#request(
      'GET',
      `/subjects/${encodeURIComponent(subject)}/versions/latest`,
      'SUBJECT_NOT_FOUND',
    );
    if (typeof answer.id !== 'number' || !Number.isInteger(answer.id)) {
      throw new RegistryError(
        'REGISTRY_RESPONSE_INVALID',
        `latest version of ${subject}: the answer has no id`,
      );
    }
    return answer.id;
  }

  /**
   * The writer schema for `id` (cached; concurrent misses share one request). Throws RegistryError
   * (SCHEMA_NOT_FOUND permanent, REGISTRY_UNAVAILABLE retriable, ...) or AvroSchemaError when the
   * registry's schema is not Avro sealpost can use.
   */
  async getSchema(id: number): Promise<RegisteredSchema> {
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff)
      throw invalidArgument('schema id must be an unsigned 32-bit integer');
    const cached = this.#schemas.get(id);
    if (cached !== undefined) {
      // Re-insert: Map order is the LRU order.
      this.#schemas.delete(id);
      this.#schemas.set(id, cached);
      return cached;
    }
    let pending = this.#inflight.get(id);
    if (pending === undefined) {
      pending = this.#fetchSchema(id).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending;
  }

  async #fetchSchema(id: number): Promise<RegisteredSchema> {
    const answer = await this.#request('GET', `/schemas/ids/${id}`, 'SCHEMA_NOT_FOUND');
    const text = answer.schema;
    if (typeof text !== 'string') {
      throw new RegistryError(
        'REGISTRY_RESPONSE_INVALID',
        `schema ${id}: the answer has no schema text`,
      );
    }
    const schemaType = answer.schemaType;
    if (schemaType !== undefined && schemaType !== null && schemaType !== 'AVRO') {
      throw new AvroSchemaError('SCHEMA_UNSUPPORTED', `schema ${id} is not Avro`);
    }
    const schema: RegisteredSchema = {
      id,
      text,
      codec: AvroCodec.parse(text, { limits: this.#limits }),
    };
    this.#schemas.set(id, schema);
    while (this.#schemas.size > this.#maxCached) {
      const oldest = this.#schemas.keys().next();
      if (oldest.done === true) break;
      this.#schemas.delete(oldest.value);
    }
    return schema;
  }

  /** Encodes `value` with schema `id` in Confluent framing (`0x00 ‖ u32 id ‖ Avro`). */
  async encode(id: number, value: unknown): Promise<Buffer> {
    return (await this.encoder(id))(value);
  }

  /**
   * `encode` for many values of one schema: the schema is looked up once, each value is then encoded
   * synchronously (the producer encodes a whole send with one lookup).
   */
  async encoder(id: number): Promise<(value: unknown) => Buffer> {
    const { codec } = await this.getSchema(id);
    return (value) => writeConfluentHeader(codec.encode(value, CONFLUENT_HEADER_BYTES), id);
  }

  /**
   * Decodes a Confluent-framed payload with its writer schema (and an optional reader schema),
   * validating it against the limits first. The size limit is checked before the schema is fetched,
   * so junk does not cost a registry round trip.
   */
  async decode(
    framed: Uint8Array,
    options: { readonly reader?: AvroCodec } = {},
  ): Promise<DecodedPayload> {
    const { schemaId, body } = decodeConfluentFrame(framed);
    if (framed.length - CONFLUENT_HEADER_BYTES > this.#limits.maxBytes) {
      throw new AvroDecodeError(
        'PAYLOAD_TOO_LARGE',
        `payload of ${body.length} bytes exceeds maxBytes ${this.#limits.maxBytes}`,
      );
    }
    const schema = await this.getSchema(schemaId);
    return { schemaId, value: schema.codec.decode(body, options), schema };
  }

  /** One JSON request; every failure becomes a RegistryError. */
  async #request(
    method: string,
    path: string,
    notFound: RegistryErrorCode,
    body?: Json,
  ): Promise<Json> {
    const what = `registry ${method} ${path}`;
    const headers: Record<string, string> = {
      Accept: 'application/vnd.schemaregistry.v1+json, application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/vnd.schemaregistry.v1+json';
    if (this.#authHeader !== undefined) headers.Authorization = this.#authHeader;
    let status: number;
    let text: string;
    try {
      const response = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      status = response.status;
      const declared = Number(response.headers.get('content-length') ?? '0');
      if (declared > this.#maxResponseBytes) {
        throw new RegistryError(
          'REGISTRY_RESPONSE_INVALID',
          `${what}: answer larger than ${this.#maxResponseBytes} bytes`,
          { status },
        );
      }
      text = await response.text();
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      // Refused, reset, DNS, TLS, timeout: the registry may be back later.
      throw new RegistryError(
        'REGISTRY_UNAVAILABLE',
        `${what}: registry unreachable (${networkReason(err)})`,
        { cause: err },
      );
    }
    if (text.length > this.#maxResponseBytes) {
      throw new RegistryError(
        'REGISTRY_RESPONSE_INVALID',
        `${what}: answer larger than ${this.#maxResponseBytes} bytes`,
        { status },
      );
    }
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) {
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new RegistryError(
          'REGISTRY_RESPONSE_INVALID',
          `${what}: the answer is not a JSON object`,
          { status },
        );
      }
      return json as Json;
    }
    const errorBody = typeof json === 'object' && json !== null ? (json as Json) : {};
    const registryErrorCode =
      typeof errorBody.error_code === 'number' ? errorBody.error_code : undefined;
    const detail =
      typeof errorBody.message === 'string' ? `: ${errorBody.message.slice(0, 200)}` : '';
    const code = statusCode(status, registryErrorCode, notFound);
    throw new RegistryError(code, `${what}: HTTP ${status}${detail}`, {
      status,
      ...(registryErrorCode === undefined ? {} : { registryErrorCode }),
    });
  }
}

function statusCode(
  status: number,
  registryErrorCode: number | undefined,
  notFound: RegistryErrorCode,
): RegistryErrorCode {
  if (status >= 500 || status === 408 || status === 429) return 'REGISTRY_UNAVAILABLE';
  if (status === 401 || status === 403) return 'REGISTRY_UNAUTHORIZED';
  if (status === 404) {
    if (registryErrorCode === 40403) return 'SCHEMA_NOT_FOUND';
    if (registryErrorCode === 40401 || registryErrorCode === 40402) return 'SUBJECT_NOT_FOUND';
    return notFound;
  }
  if (status === 409) return 'SCHEMA_INCOMPATIBLE';
  if (status === 422) return 'SCHEMA_REJECTED';
  return 'REGISTRY_REQUEST_FAILED';
}

/** A short, secret-free reason for a network failure: the error's code (ECONNREFUSED, ...) or name. */
function networkReason(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
  if (typeof cause === 'object' && cause !== null) {
    const c = cause as { code?: unknown; name?: unknown };
    if (typeof c.code === 'string') return c.code;
    if (typeof c.name === 'string') return c.name;
  }
  return 'network error';
}
