import avsc from 'avsc';
import type { Resolver, Schema, Type } from 'avsc';
import {
  AvroBinaryValidator,
  DEFAULT_AVRO_LIMITS,
  type AvroLimits,
} from './avro-binary-validator.js';
import { AvroDecodeError, AvroEncodeError, AvroSchemaError } from './avro-errors.js';

/** Options of {@link AvroCodec.parse}. */
export interface AvroCodecOptions {
  /** Decoding limits; unspecified ones take {@link DEFAULT_AVRO_LIMITS}. */
  readonly limits?: Partial<AvroLimits>;
}

/** Options of {@link AvroCodec.decode}. */
export interface AvroDecodeOptions {
  /**
   * Reader schema for schema evolution: the data is validated against this codec's (writer) schema,
   * then resolved into the reader's shape (defaults for added fields, dropped removed ones, promotions).
   */
  readonly reader?: AvroCodec;
}

/**
 * One Avro schema with a safe decoder (the only owner of avsc, with the registry client). Every
 * decode runs the validating walker (avro-binary-validator.ts) before avsc touches the bytes, so a
 * hostile payload fails with a typed AvroDecodeError instead of exhausting memory, stack or time.
 */
export class AvroCodec {
  /** The schema text exactly as given (what the schema fingerprint is computed over). */
  readonly schemaText: string;
  readonly #type: Type;
  readonly #validator: AvroBinaryValidator;
  readonly #resolvers = new WeakMap<AvroCodec, Resolver>();
  /** Where values are encoded before their exact-size copy (grows to the largest value seen). */
  #scratch = Buffer.alloc(4096);

  private constructor(schemaText: string, type: Type, limits: AvroLimits) {
    this.schemaText = schemaText;
    this.#type = type;
    this.#validator = new AvroBinaryValidator(type, limits);
  }

  /** Parses a schema (JSON text). Throws AvroSchemaError SCHEMA_INVALID / SCHEMA_UNSUPPORTED. */
  static parse(schemaText: string, options: AvroCodecOptions = {}): AvroCodec {
    const limits = resolveLimits(options.limits);
    let schema: unknown;
    try {
      schema = JSON.parse(schemaText);
    } catch (err) {
      throw new AvroSchemaError('SCHEMA_INVALID', 'the schema is not valid JSON', err);
    }
    let type: Type;
    try {
      // A fresh registry per schema: named types of one schema never leak into another.
      type = avsc.Type.forSchema(schema as Schema, { registry: {} });
    } catch (err) {
      throw new AvroSchemaError(
        'SCHEMA_INVALID',
        `the schema is not valid Avro: ${errorMessage(err)}`,
        err,
      );
    }
    return new AvroCodec(schemaText, type, limits);
  }

  /** The decoding limits in force. */
  get limits(): AvroLimits {
    return this.#validator.limits;
  }

  /**
   * Encodes a value (Avro binary) after `headroom` bytes left for the caller's framing (not written).
   * Throws AvroEncodeError with the offending paths. Encodes into a scratch buffer kept by the codec
   * (zeroed after each use: it held the plaintext) and returns one exact-size copy: avsc's own
   * `toBuffer` costs a zero-filled allocation per value on top of that copy.
   */
  encode(value: unknown, headroom = 0): Buffer {
    try {
      let end = this.#type.encode(value, this.#scratch, headroom);
      if (end < 0) {
        // The outgrown scratch may hold part of the value: zero it before letting it go.
        this.#scratch.fill(0);
        this.#scratch = Buffer.alloc(
          Math.max(2 * this.#scratch.length, this.#scratch.length - end),
        );
        end = this.#type.encode(value, this.#scratch, headroom);
      }
      const out = Buffer.allocUnsafe(end);
      this.#scratch.copy(out, headroom, headroom, end);
      this.#scratch.fill(0, headroom, end);
      return out;
    } catch {
      this.#scratch.fill(0);
      // avsc's message quotes the offending value, so neither it nor the error is passed on.
      const paths: string[] = [];
      this.#type.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.')) });
      throw new AvroEncodeError('the value does not match the schema', paths);
    }
  }

  /** Throws AvroDecodeError unless `body` is one well-formed value of this schema within the limits. */
  validate(body: Uint8Array): void {
    this.#validator.validate(body);
  }

  /**
   * Decodes one value (Avro binary, no framing) written with this schema, after validating it.
   * Throws AvroDecodeError (PAYLOAD_*) or, for an unusable reader schema, AvroSchemaError.
   */
  decode(body: Uint8Array, options: AvroDecodeOptions = {}): unknown {
    this.#validator.validate(body);
    const buf = Buffer.isBuffer(body)
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const reader = options.reader;
    try {
      if (reader === undefined || reader === this) return this.#type.fromBuffer(buf);
      return reader.#type.fromBuffer(buf, this.#resolverFor(reader));
    } catch (err) {
      if (err instanceof AvroSchemaError) throw err;
      // What the walker lets through avsc may still refuse (a long beyond 2^53, an enum symbol the
      // reader lacks). avsc's message may quote decoded data, so it is not passed on.
      throw new AvroDecodeError(
        'PAYLOAD_MALFORMED',
        'malformed Avro: the decoder refused the value',
      );
    }
  }

  #resolverFor(reader: AvroCodec): Resolver {
    let resolver = this.#resolvers.get(reader);
    if (resolver === undefined) {
      try {
        resolver = reader.#type.createResolver(this.#type);
      } catch (err) {
        throw new AvroSchemaError(
          'READER_SCHEMA_INCOMPATIBLE',
          `the reader schema cannot read this writer schema: ${errorMessage(err)}`,
          err,
        );
      }
      this.#resolvers.set(reader, resolver);
    }
    return resolver;
  }
}

function resolveLimits(partial: Partial<AvroLimits> | undefined): AvroLimits {
  const limits = { ...DEFAULT_AVRO_LIMITS, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new AvroSchemaError(
        'SCHEMA_UNSUPPORTED',
        `limit ${name} must be a non-negative integer`,
      );
    }
  }
  return Object.freeze(limits);
}

/** For schema errors only: avsc's schema messages name types and fields, not data. */
function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
