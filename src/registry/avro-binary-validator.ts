/**
 * Hostile-Avro defence: a validating walker over Avro binary data, run BEFORE avsc decodes it.
 *
 * Why: avsc 5.7.9 trusts every count and length it reads. A 6-byte value against `array<null>` (a
 * block count of 2^31 zero-size items, then 0) makes it allocate and fill a 2^31-element array and the
 * process dies out of memory; huge declared string/bytes lengths or map sizes, and deep recursion
 * through recursive records, are the other ways in. Decoding in a worker thread with a heap limit
 * would contain the crash but not the CPU cost, and a worker per record costs more than decoding.
 *
 * The choice: walk the bytes against the writer schema first, without building any value, and check
 * - the whole payload against `maxBytes`;
 * - every declared string/bytes/fixed length and block byte-size against the bytes that remain;
 * - every array/map block count: items of non-zero minimal encoded size must fit in the remaining
 *   bytes; all items together are bounded by `maxItems`, and items that encode to zero bytes (null,
 *   empty records) — the 6-byte attack — by the much smaller `maxZeroSizeItems`;
 * - nesting depth (records, arrays, maps, unions) against `maxDepth`, which bounds recursion both here
 *   and in avsc;
 * - varints: at most 5 bytes for int, 10 for long, and minimal (no redundant 0x80 ... 0x00 tail);
 *   booleans are 0 or 1; union and enum indexes are in range; strings and map keys are valid UTF-8;
 *   a negative-count block's byte size matches what its items consume; no bytes after the value.
 * Only then does avsc decode, so its allocations are bounded by what the walker accepted: time is
 * linear in the payload size plus the item count, and memory is bounded by the limits.
 */
import { isUtf8 } from 'node:buffer';
import type { Type } from 'avsc';
import { AvroDecodeError, AvroSchemaError } from './avro-errors.js';

/** Limits enforced before any Avro payload is decoded. */
export interface AvroLimits {
  /** Largest accepted payload (the Avro body, without framing), in bytes. */
  readonly maxBytes: number;
  /** Most array items plus map entries in one value, all levels together. */
  readonly maxItems: number;
  /** Most items whose encoding takes zero bytes (null, empty records) in one value. */
  readonly maxZeroSizeItems: number;
  /** Deepest nesting of records, arrays, maps and unions. */
  readonly maxDepth: number;
}

/** Defaults: 1 MiB payloads, 1 Mi items, 64 Ki zero-size items, depth 64. */
export const DEFAULT_AVRO_LIMITS: AvroLimits = Object.freeze({
  maxBytes: 1_048_576,
  maxItems: 1_048_576,
  maxZeroSizeItems: 65_536,
  maxDepth: 64,
});

type Node =
  | { readonly kind: 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string' }
  | { readonly kind: 'fixed'; readonly size: number }
  | { readonly kind: 'enum'; readonly symbols: number }
  | { readonly kind: 'array'; items: Node }
  | { readonly kind: 'map'; values: Node }
  | { readonly kind: 'record'; fields: Node[] }
  | { readonly kind: 'union'; branches: Node[] };

interface AvscTypeShape {
  readonly typeName: string;
  readonly itemsType?: Type;
  readonly valuesType?: Type;
  readonly fields?: readonly { readonly type: Type }[];
  readonly types?: readonly Type[];
  readonly symbols?: readonly string[];
  readonly size?: number;
  readonly underlyingType?: Type;
}

/** Builds the walker's schema tree from an avsc Type; recursive named types become cycles. */
function compile(type: Type, memo: Map<Type, Node>): Node {
  const seen = memo.get(type);
  if (seen !== undefined) return seen;
  const t = type as unknown as AvscTypeShape;
  const name = t.typeName;
  switch (name) {
    case 'null':
    case 'boolean':
    case 'int':
    case 'long':
    case 'float':
    case 'double':
    case 'bytes':
    case 'string':
      return { kind: name };
    case 'fixed':
      return { kind: 'fixed', size: t.size ?? 0 };
    case 'enum':
      return { kind: 'enum', symbols: t.symbols?.length ?? 0 };
    case 'array': {
      const node: { kind: 'array'; items: Node } = { kind: 'array', items: { kind: 'null' } };
      memo.set(type, node);
      node.items = compile(t.itemsType!, memo);
      return node;
    }
    case 'map': {
      const node: { kind: 'map'; values: Node } = { kind: 'map', values: { kind: 'null' } };
      memo.set(type, node);
      node.values = compile(t.valuesType!, memo);
      return node;
    }
    case 'record':
    case 'error': {
      // Registered before its fields so a recursive reference points back at this node.
      const node: { kind: 'record'; fields: Node[] } = { kind: 'record', fields: [] };
      memo.set(type, node);
      node.fields = (t.fields ?? []).map((f) => compile(f.type, memo));
      return node;
    }
    case 'union:unwrapped':
    case 'union:wrapped': {
      const node: { kind: 'union'; branches: Node[] } = { kind: 'union', branches: [] };
      memo.set(type, node);
      node.branches = (t.types ?? []).map((b) => compile(b, memo));
      return node;
    }
    default:
      if (name.startsWith('logical:') && t.underlyingType !== undefined) {
        return compile(t.underlyingType, memo);
      }
      throw new AvroSchemaError(
        'SCHEMA_UNSUPPORTED',
        `Avro type ${name} is not supported by the validating decoder`,
      );
  }
}

/**
 * Minimal encoded size of each node, in bytes (0 = can encode to nothing). Cycles are treated as
 * size 0, which only makes the zero-size budget apply more often (conservative).
 */
function minimalSizes(root: Node): Map<Node, number> {
  const sizes = new Map<Node, number>();
  const inProgress = new Set<Node>();
  const visit = (n: Node): number => {
    const known = sizes.get(n);
    if (known !== undefined) return known;
    if (inProgress.has(n)) return 0;
    inProgress.add(n);
    let size: number;
    switch (n.kind) {
      case 'null':
        size = 0;
        break;
      case 'float':
        size = 4;
        break;
      case 'double':
        size = 8;
        break;
      case 'fixed':
        size = n.size;
        break;
      case 'record':
        size = n.fields.reduce((sum, f) => sum + visit(f), 0);
        break;
      case 'array':
        visit(n.items);
        size = 1;
        break;
      case 'map':
        visit(n.values);
        size = 1;
        break;
      case 'union':
        n.branches.forEach(visit);
        size = 1;
        break;
      default:
        size = 1; // boolean, int, long, enum, and the length varint of bytes/string
    }
    inProgress.delete(n);
    sizes.set(n, size);
    return size;
  };
  visit(root);
  return sizes;
}

/** UTF-8 check with an ASCII fast path: a native call costs more than scanning a short ASCII run. */
function isValidUtf8(buf: Uint8Array, start: number, end: number): boolean {
  // Long strings go to the native (SIMD) check at once; short ones are cheaper in a loop.
  if (end - start > 32) return isUtf8(buf.subarray(start, end));
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return isUtf8(buf.subarray(i, end));
  }
  return true;
}

const MAP_KEY: Node = Object.freeze({ kind: 'string' });

/** What the validator holds between calls: nothing of the caller's (one empty array, not one per call). */
const NO_BYTES = new Uint8Array(0);

/** Checks Avro binary data against one writer schema; reusable, not re-entrant across threads. */
export class AvroBinaryValidator {
  readonly #root: Node;
  readonly #minSize: Map<Node, number>;
  readonly #limits: AvroLimits;
  // Walk state (reset per call).
  #buf: Uint8Array = NO_BYTES;
  #pos = 0;
  #items = 0;
  #zeroItems = 0;

  constructor(type: Type, limits: AvroLimits = DEFAULT_AVRO_LIMITS) {
    this.#root = compile(type, new Map());
    this.#minSize = minimalSizes(this.#root);
    this.#limits = limits;
  }

  /** The limits this validator enforces. */
  get limits(): AvroLimits {
    return this.#limits;
  }

  /** Throws AvroDecodeError unless `body` is exactly one well-formed value within the limits. */
  validate(body: Uint8Array): void {
    if (body.length > this.#limits.maxBytes) {
      throw new AvroDecodeError(
        'PAYLOAD_TOO_LARGE',
        `payload of ${body.length} bytes exceeds maxBytes ${this.#limits.maxBytes}`,
      );
    }
    this.#buf = body;
    this.#pos = 0;
    this.#items = 0;
    this.#zeroItems = 0;
    try {
      this.#walk(this.#root, 0);
      if (this.#pos !== body.length) {
        throw this.#malformed(`${body.length - this.#pos} trailing bytes after the value`);
      }
    } finally {
      // Do not keep a reference to the caller's (possibly sensitive) buffer.
      this.#buf = NO_BYTES;
    }
  }

  #malformed(what: string): AvroDecodeError {
    return new AvroDecodeError('PAYLOAD_MALFORMED', `malformed Avro: ${what}`, {
      offset: this.#pos,
    });
  }

  #remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /**
   * Reads a zig-zag varint of at most `maxBytes` bytes (5 for int, 10 for long) and returns its value
   * as a double (exact up to 2^53; anything larger is larger than any length we could accept).
   */
  #readVarint(maxBytes: 5 | 10): number {
    const buf = this.#buf;
    // Fast path: most counts, lengths and small numbers fit one byte.
    if (this.#pos < buf.length) {
      const first = buf[this.#pos]!;
      if ((first & 0x80) === 0) {
        this.#pos++;
        return first % 2 === 0 ? first / 2 : -(first + 1) / 2;
      }
    }
    let unsigned = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.#pos >= buf.length) throw this.#malformed('truncated varint');
      const b = buf[this.#pos++]!;
      unsigned += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw this.#malformed('non-minimal varint');
        if (i === maxBytes - 1 && b > (maxBytes === 5 ? 0x0f : 0x01))
          throw this.#malformed('varint overflows its type');
        // zig-zag: even -> n/2, odd -> -(n+1)/2
        return unsigned % 2 === 0 ? unsigned / 2 : -(unsigned + 1) / 2;
      }
      scale *= 128;
    }
    throw this.#malformed('varint too long');
  }

  #skip(n: number, what: string): void {
    if (n < 0) throw this.#malformed(`negative ${what} length`);
    if (n > this.#remaining()) throw this.#malformed(`${what} length exceeds the remaining bytes`);
    this.#pos += n;
  }

  #walk(node: Node, depth: number): void {
    switch (node.kind) {
      case 'null':
        return;
      case 'boolean': {
        if (this.#pos >= this.#buf.length) throw this.#malformed('truncated boolean');
        const b = this.#buf[this.#pos++]!;
        if (b > 1) throw this.#malformed('boolean byte is neither 0 nor 1');
        return;
      }
      case 'int':
        this.#readVarint(5);
        return;
      case 'long':
        this.#readVarint(10);
        return;
      case 'float':
        this.#skip(4, 'float');
        return;
      case 'double':
        this.#skip(8, 'double');
        return;
      case 'bytes':
        this.#skip(this.#readVarint(10), 'bytes');
        return;
      case 'string': {
        const len = this.#readVarint(10);
        const start = this.#pos;
        this.#skip(len, 'string');
        if (!isValidUtf8(this.#buf, start, this.#pos)) {
          this.#pos = start;
          throw this.#malformed('string is not valid UTF-8');
        }
        return;
      }
      case 'fixed':
        this.#skip(node.size, 'fixed');
        return;
      case 'enum': {
        const index = this.#readVarint(5);
        if (index < 0 || index >= node.symbols) throw this.#malformed('enum index out of range');
        return;
      }
      case 'union': {
        this.#enter(depth);
        const index = this.#readVarint(10);
        const branch = index >= 0 ? node.branches[index] : undefined;
        if (branch === undefined) throw this.#malformed('union branch index out of range');
        this.#walk(branch, depth + 1);
        return;
      }
      case 'record':
        this.#enter(depth);
        for (const field of node.fields) this.#walk(field, depth + 1);
        return;
      case 'array':
        this.#enter(depth);
        this.#blocks(node.items, false, depth + 1);
        return;
      case 'map':
        this.#enter(depth);
        this.#blocks(node.values, true, depth + 1);
        return;
    }
  }

  #enter(depth: number): void {
    if (depth >= this.#limits.maxDepth) {
      throw new AvroDecodeError(
        'PAYLOAD_LIMIT_EXCEEDED',
        `nesting deeper than maxDepth ${this.#limits.maxDepth}`,
        {
          offset: this.#pos,
        },
      );
    }
  }

  /** Array or map blocks: `count items` ... `0`; a negative count is followed by the block's byte size. */
  #blocks(item: Node, isMap: boolean, depth: number): void {
    // A map entry's key is a string: at least one byte, so map entries are never zero-size.
    const itemMin = isMap ? 1 + this.#minSize.get(item)! : this.#minSize.get(item)!;
    for (;;) {
      let count = this.#readVarint(10);
      if (count === 0) return;
      let blockEnd = -1;
      if (count < 0) {
        count = -count;
        const size = this.#readVarint(10);
        if (size < 0 || size > this.#remaining())
          throw this.#malformed('block size exceeds the remaining bytes');
        blockEnd = this.#pos + size;
      }
      // Cheap bounds before walking anything: the block must fit in what is left and in the budgets.
      if (itemMin > 0 && count > this.#remaining() / itemMin) {
        throw this.#malformed('block count exceeds what the remaining bytes can hold');
      }
      this.#items += count;
      if (this.#items > this.#limits.maxItems) {
        throw new AvroDecodeError(
          'PAYLOAD_LIMIT_EXCEEDED',
          `more than maxItems ${this.#limits.maxItems} items`,
          {
            offset: this.#pos,
          },
        );
      }
      if (itemMin === 0) {
        this.#zeroItems += count;
        if (this.#zeroItems > this.#limits.maxZeroSizeItems) {
          throw new AvroDecodeError(
            'PAYLOAD_LIMIT_EXCEEDED',
            `more than maxZeroSizeItems ${this.#limits.maxZeroSizeItems} zero-size items`,
            { offset: this.#pos },
          );
        }
      }
      for (let i = 0; i < count; i++) {
        if (isMap) this.#walk(MAP_KEY, depth);
        this.#walk(item, depth);
      }
      if (blockEnd >= 0 && this.#pos !== blockEnd)
        throw this.#malformed('block size does not match its items');
    }
  }
}
