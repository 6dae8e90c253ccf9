import type { CryptoProvider } from '../crypto/provider.js';
import type { TokenKeyring } from './token-keyring.js';
import type { RecordPlan, TokenFieldPlan } from './token-schema.js';
import { deriveTokenSchema, tokenPlan } from './token-schema.js';
import type { TokenValueType } from './token-cipher.js';
import { formatToken, type TokenMode } from './token-string.js';
import { TokenizeError } from './tokenize-error.js';

/** Options of {@link FieldTokenizer}. */
export interface FieldTokenizerOptions {
  /** Keys of the classes this producer tokenizes (the newest version of each is used). */
  readonly keyring: TokenKeyring;
  readonly crypto: CryptoProvider;
  /** Writer schemas whose plans are cached. Default 256. */
  readonly maxCachedPlans?: number;
}

/**
 * Replaces annotated fields by tokens before a value is encoded and sealed. It is the producer's
 * `tokenizer` hook (SealedProducerOptions.tokenizer): `writerSchemaFor` turns the application's
 * annotated schema into the one registered, and `tokenize` rewrites a value for the registered
 * writer schema (its `sealpost.token` annotations say which fields and how). The input value is not
 * modified; only the records on a token field's path are copied.
 */
export class FieldTokenizer {
  readonly #o: FieldTokenizerOptions;
  readonly #plans = new Map<string, RecordPlan>();
  readonly #encoder = new TextEncoder();

  constructor(options: FieldTokenizerOptions) {
    this.#o = options;
  }

  /** The schema to register for an (annotated) application schema; unannotated schemas pass unchanged. */
  writerSchemaFor(schemaText: string): string {
    return deriveTokenSchema(schemaText).text;
  }

  /** `value` with every token field of `writerSchemaText` replaced by its token or mask. */
  tokenize(writerSchemaText: string, value: unknown): unknown {
    const plan = this.#plan(writerSchemaText);
    if (plan.fields.size === 0) return value;
    return this.#record(plan, value, '');
  }

  /** One value → its token (deterministic) or mask, with the newest key of `tokenClass`. */
  tokenizeValue(
    tokenClass: string,
    mode: TokenMode,
    type: TokenValueType,
    value: string | Uint8Array,
  ): string {
    const key = this.#o.keyring.latest(tokenClass);
    const bytes = this.#bytes(type, value, tokenClass);
    try {
      const out = mode === 'deterministic' ? key.seal(bytes, type) : key.mask(bytes, type);
      return formatToken({ mode, tokenClass, version: key.version, type, bytes: out });
    } finally {
      // A string's UTF-8 copy is ours to wipe; a caller's bytes are not.
      if (typeof value === 'string') this.#o.crypto.memzero(bytes);
    }
  }

  #plan(text: string): RecordPlan {
    let plan = this.#plans.get(text);
    if (plan === undefined) {
      plan = tokenPlan(text);
      this.#plans.set(text, plan);
      const max = this.#o.maxCachedPlans ?? 256;
      while (this.#plans.size > max) {
        const oldest = this.#plans.keys().next();
        if (oldest.done === true) break;
        this.#plans.delete(oldest.value);
      }
    }
    return plan;
  }

  #record(plan: RecordPlan, value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TokenizeError(
        'TOKEN_VALUE_INVALID',
        `value at ${path || '(root)'} is not a record`,
      );
    }
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const [name, f] of plan.fields) {
      const fieldPath = path === '' ? name : `${path}.${name}`;
      const v = copy[name];
      if (v === null && f.nullable) continue;
      if (f.kind === 'record') copy[name] = this.#record(f.plan, v, fieldPath);
      else copy[name] = this.#field(f, v, fieldPath);
    }
    return copy;
  }

  #field(f: TokenFieldPlan, v: unknown, path: string): string {
    if (f.type === 'string' ? typeof v !== 'string' : !(v instanceof Uint8Array)) {
      throw new TokenizeError(
        'TOKEN_VALUE_INVALID',
        `field ${path} must be ${f.type === 'string' ? 'a string' : 'bytes'}${f.nullable ? ' or null' : ''}`,
      );
    }
    return this.tokenizeValue(f.tokenClass, f.mode, f.type, v as string | Uint8Array);
  }

  #bytes(type: TokenValueType, value: string | Uint8Array, tokenClass: string): Uint8Array {
    if (type === 'string') {
      if (typeof value !== 'string')
        throw new TokenizeError('TOKEN_VALUE_INVALID', `a ${tokenClass} string value is expected`);
      return this.#encoder.encode(value);
    }
    if (!(value instanceof Uint8Array))
      throw new TokenizeError('TOKEN_VALUE_INVALID', `a ${tokenClass} bytes value is expected`);
    return value;
  }
}
