import { SealpostError, type ErrorCodeTable } from '../errors.js';

/**
 * Why an Avro payload was refused. All permanent: the same bytes fail the same way every time.
 * - `PAYLOAD_TOO_LARGE`: the payload is longer than `maxBytes` (checked before anything else).
 * - `PAYLOAD_LIMIT_EXCEEDED`: it declares more items (array elements, map entries) or deeper
 *   nesting than the limits allow — the shapes that drive a decoder out of memory or stack.
 * - `PAYLOAD_MALFORMED`: not a valid encoding of the writer schema (a length beyond the end,
 *   truncation, trailing bytes, a non-minimal varint, a bad union or enum index, invalid UTF-8 ...).
 * - `FRAME_INVALID`: not Confluent wire format (`0x00 ‖ u32 schemaId ‖ body`).
 */
export const AVRO_DECODE_ERROR_CODES = {
  PAYLOAD_TOO_LARGE: 'no',
  PAYLOAD_LIMIT_EXCEEDED: 'no',
  PAYLOAD_MALFORMED: 'no',
  FRAME_INVALID: 'no',
} as const satisfies ErrorCodeTable;
export type AvroDecodeErrorCode = keyof typeof AVRO_DECODE_ERROR_CODES;

/** An Avro payload that cannot be decoded safely. The message names the check, never the contents. */
export class AvroDecodeError extends SealpostError {
  declare readonly code: AvroDecodeErrorCode;
  /** Byte position in the Avro body where the check failed, when known. */
  readonly offset: number | undefined;

  constructor(
    code: AvroDecodeErrorCode,
    message: string,
    options: { offset?: number; cause?: unknown } = {},
  ) {
    super(code, options.offset === undefined ? message : `${message} (at byte ${options.offset})`, {
      retriable: false,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.offset = options.offset;
  }
}

/** A value that does not fit its schema (encoding side). Never includes the value itself. */
export const AVRO_ENCODE_ERROR_CODES = { VALUE_INVALID: 'no' } as const satisfies ErrorCodeTable;
export type AvroEncodeErrorCode = keyof typeof AVRO_ENCODE_ERROR_CODES;

export class AvroEncodeError extends SealpostError {
  declare readonly code: AvroEncodeErrorCode;
  /** Paths (e.g. `order.items.3.price`) of the fields that do not fit. Field names only, no values. */
  readonly paths: readonly string[];

  constructor(message: string, paths: readonly string[], cause?: unknown) {
    super('VALUE_INVALID', message, {
      retriable: false,
      ...(cause === undefined ? {} : { cause }),
    });
    this.paths = paths;
  }
}

/**
 * A schema sealpost cannot use: not valid Avro (`SCHEMA_INVALID`), not a schema type sealpost supports
 * (`SCHEMA_UNSUPPORTED`), or a reader schema that cannot read the writer's data
 * (`READER_SCHEMA_INCOMPATIBLE`; the registry's own refusal is RegistryError `SCHEMA_INCOMPATIBLE`).
 */
export const AVRO_SCHEMA_ERROR_CODES = {
  SCHEMA_INVALID: 'no',
  SCHEMA_UNSUPPORTED: 'no',
  READER_SCHEMA_INCOMPATIBLE: 'no',
} as const satisfies ErrorCodeTable;
export type AvroSchemaErrorCode = keyof typeof AVRO_SCHEMA_ERROR_CODES;

export class AvroSchemaError extends SealpostError {
  declare readonly code: AvroSchemaErrorCode;

  constructor(code: AvroSchemaErrorCode, message: string, cause?: unknown) {
    super(code, message, { retriable: false, ...(cause === undefined ? {} : { cause }) });
  }
}
