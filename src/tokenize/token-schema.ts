/**
 * Schema side of tokenization. The application writes its Avro schema with annotations on record
 * fields — `"sealpost.tokenize": "deterministic" | "mask"` and `"sealpost.class": "<class>"` — and
 * `deriveTokenSchema` turns it into the schema that is registered and that consumers see: each
 * annotated field becomes `string` (or its nullable union with `string`) carrying
 * `"sealpost.token": {"mode", "class", "type"}` (type = the original `string`/`bytes`), so a reader
 * knows from the writer schema which fields are tokens. `tokenPlan` reads those annotations back.
 *
 * Only values the producer can find are tokenized, so annotations are refused (TOKEN_SCHEMA_UNSUPPORTED)
 * on fields whose type is not string, bytes or a two-branch union of null with one of them, and on
 * fields inside arrays, maps or unions other than `[null, record]`.
 */
import { TOKEN_CLASS_PATTERN } from '../keys/directory/directory-record.js';
import type { TokenValueType } from './token-cipher.js';
import type { TokenMode } from './token-string.js';
import { TokenizeError } from './tokenize-error.js';

/** Annotation keys. */
export const TOKENIZE_ANNOTATION = 'sealpost.tokenize';
export const CLASS_ANNOTATION = 'sealpost.class';
export const TOKEN_ANNOTATION = 'sealpost.token';

/** One token field: where it is and how it is protected. */
export interface TokenFieldPlan {
  readonly kind: 'token';
  readonly mode: TokenMode;
  readonly tokenClass: string;
  readonly type: TokenValueType;
  readonly nullable: boolean;
}
/** A nested record that contains token fields. */
export interface NestedRecordPlan {
  readonly kind: 'record';
  readonly nullable: boolean;
  readonly plan: RecordPlan;
}
/** The token fields of one record type (field name → plan); empty when it has none. */
export interface RecordPlan {
  readonly fields: Map<string, TokenFieldPlan | NestedRecordPlan>;
}

/** A token field found in a schema, with its dotted path from the top-level record. */
export interface TokenFieldDescription {
  readonly path: string;
  readonly mode: TokenMode;
  readonly tokenClass: string;
  readonly type: TokenValueType;
  readonly nullable: boolean;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const PRIMITIVES = new Set([
  'null',
  'boolean',
  'int',
  'long',
  'float',
  'double',
  'bytes',
  'string',
]);
const isObject = (x: Json | undefined): x is JsonObject =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

interface Annotation {
  readonly mode: TokenMode;
  readonly tokenClass: string;
  /** Set when read from a derived schema (`sealpost.token`). */
  readonly type?: TokenValueType;
}

class Walker {
  readonly named = new Map<string, RecordPlan>();
  constructor(readonly derive: boolean) {}

  /** Returns the (possibly rewritten) node and the record plan when the node is a record type. */
  node(n: Json, ns: string, traversable: boolean, path: string): { node: Json; plan?: RecordPlan } {
    if (typeof n === 'string') {
      if (PRIMITIVES.has(n)) return { node: n };
      const plan =
        this.named.get(n.includes('.') ? n : ns === '' ? n : `${ns}.${n}`) ?? this.named.get(n);
      if (plan !== undefined && !traversable && hasTokens(plan))
        unsupported(path, 'a record with token fields is used inside an array, map or union');
      return plan === undefined ? { node: n } : { node: n, plan };
    }
    if (Array.isArray(n)) {
      const nullable = n.length === 2 && n.some((b) => b === 'null');
      const out: Json[] = [];
      let plan: RecordPlan | undefined;
      for (const b of n) {
        const r = this.node(b, ns, traversable && nullable, path);
        out.push(r.node);
        if (r.plan !== undefined) plan = r.plan;
      }
      return plan === undefined ? { node: out } : { node: out, plan };
    }
    if (!isObject(n))
      throw new TokenizeError(
        'TOKEN_SCHEMA_INVALID',
        `schema node at ${path || '(root)'} is not a type`,
      );
    for (const k of [TOKENIZE_ANNOTATION, CLASS_ANNOTATION, TOKEN_ANNOTATION]) {
      if (k in n)
        throw new TokenizeError(
          'TOKEN_SCHEMA_INVALID',
          `${k} belongs on a record field, not on the type at ${path || '(root)'}`,
        );
    }
    switch (n.type) {
      case 'record':
      case 'error':
        return this.record(n, ns, traversable, path);
      case 'array':
        return { node: { ...n, items: this.node(n.items ?? null, ns, false, `${path}[]`).node } };
      case 'map':
        return { node: { ...n, values: this.node(n.values ?? null, ns, false, `${path}{}`).node } };
      default:
        return { node: n };
    }
  }

  record(
    n: JsonObject,
    enclosingNs: string,
    traversable: boolean,
    path: string,
  ): { node: Json; plan: RecordPlan } {
    if (typeof n.name !== 'string' || !Array.isArray(n.fields))
      throw new TokenizeError(
        'TOKEN_SCHEMA_INVALID',
        `record at ${path || '(root)'} needs a name and fields`,
      );
    const name = n.name;
    const ns = name.includes('.')
      ? name.slice(0, name.lastIndexOf('.'))
      : typeof n.namespace === 'string'
        ? n.namespace
        : enclosingNs;
    const fullName = name.includes('.') ? name : ns === '' ? name : `${ns}.${name}`;
    const plan: RecordPlan = { fields: new Map() };
    // Registered before the fields are walked: a recursive reference finds it.
    this.named.set(fullName, plan);
    const fields: Json[] = [];
    for (const f of n.fields) {
      if (!isObject(f) || typeof f.name !== 'string')
        throw new TokenizeError('TOKEN_SCHEMA_INVALID', `a field of ${fullName} is malformed`);
      const fieldPath = path === '' ? f.name : `${path}.${f.name}`;
      const ann = this.annotation(f, fieldPath);
      if (ann === undefined) {
        const r = this.node(f.type ?? null, ns, traversable, fieldPath);
        fields.push({ ...f, type: r.node });
        if (r.plan !== undefined && hasTokens(r.plan))
          plan.fields.set(f.name, {
            kind: 'record',
            nullable: Array.isArray(f.type),
            plan: r.plan,
          });
        continue;
      }
      if (!traversable)
        unsupported(fieldPath, 'token fields inside arrays, maps or unions cannot be followed');
      const shape = tokenableShape(f.type ?? null);
      if (shape === undefined)
        unsupported(
          fieldPath,
          'only string, bytes and a nullable union of one of them can be tokenized',
        );
      if (ann.type !== undefined && !isTokenString(f.type ?? null)) {
        throw new TokenizeError(
          'TOKEN_SCHEMA_INVALID',
          `${TOKEN_ANNOTATION} at ${fieldPath} does not match the field's type`,
        );
      }
      plan.fields.set(f.name, {
        kind: 'token',
        mode: ann.mode,
        tokenClass: ann.tokenClass,
        type: ann.type ?? shape.type,
        nullable: shape.nullable,
      });
      if (!this.derive || ann.type !== undefined) {
        fields.push(f);
        continue;
      }
      const { [TOKENIZE_ANNOTATION]: _m, [CLASS_ANNOTATION]: _c, default: def, ...rest } = f;
      const tokenType: Json = Array.isArray(f.type)
        ? f.type.map((b) => (b === 'null' ? 'null' : 'string'))
        : 'string';
      fields.push({
        ...rest,
        type: tokenType,
        // A default of the original type is not a token; only a null default survives.
        ...(def === null && Array.isArray(f.type) && f.type[0] === 'null' ? { default: null } : {}),
        [TOKEN_ANNOTATION]: { mode: ann.mode, class: ann.tokenClass, type: shape.type },
      });
    }
    return { node: { ...n, fields }, plan };
  }

  annotation(f: JsonObject, path: string): Annotation | undefined {
    const source = f[TOKENIZE_ANNOTATION];
    const cls = f[CLASS_ANNOTATION];
    const derived = f[TOKEN_ANNOTATION];
    if (source !== undefined) {
      if (derived !== undefined)
        throw new TokenizeError(
          'TOKEN_SCHEMA_INVALID',
          `field ${path} carries both ${TOKENIZE_ANNOTATION} and ${TOKEN_ANNOTATION}`,
        );
      if (source !== 'deterministic' && source !== 'mask')
        throw new TokenizeError(
          'TOKEN_SCHEMA_INVALID',
          `${TOKENIZE_ANNOTATION} at ${path} must be "deterministic" or "mask"`,
        );
      if (typeof cls !== 'string' || !TOKEN_CLASS_PATTERN.test(cls))
        throw new TokenizeError(
          'TOKEN_SCHEMA_INVALID',
          `field ${path} needs ${CLASS_ANNOTATION} matching ${TOKEN_CLASS_PATTERN.source}`,
        );
      return { mode: source, tokenClass: cls };
    }
    if (cls !== undefined)
      throw new TokenizeError(
        'TOKEN_SCHEMA_INVALID',
        `${CLASS_ANNOTATION} at ${path} without ${TOKENIZE_ANNOTATION}`,
      );
    if (derived === undefined) return undefined;
    if (
      !isObject(derived) ||
      Object.keys(derived).sort().join(',') !== 'class,mode,type' ||
      (derived.mode !== 'deterministic' && derived.mode !== 'mask') ||
      typeof derived.class !== 'string' ||
      !TOKEN_CLASS_PATTERN.test(derived.class) ||
      (derived.type !== 'string' && derived.type !== 'bytes')
    ) {
      throw new TokenizeError(
        'TOKEN_SCHEMA_INVALID',
        `${TOKEN_ANNOTATION} at ${path} is malformed`,
      );
    }
    return { mode: derived.mode, tokenClass: derived.class, type: derived.type };
  }
}

function unsupported(path: string, why: string): never {
  throw new TokenizeError('TOKEN_SCHEMA_UNSUPPORTED', `field ${path || '(root)'}: ${why}`);
}

function primitiveOf(t: Json): string | undefined {
  if (typeof t === 'string') return t;
  // The object form of a primitive, without a logical type (a token is not a uuid or a decimal).
  if (
    isObject(t) &&
    typeof t.type === 'string' &&
    PRIMITIVES.has(t.type) &&
    t.logicalType === undefined
  )
    return t.type;
  return undefined;
}

function tokenableShape(t: Json): { type: TokenValueType; nullable: boolean } | undefined {
  const p = primitiveOf(t);
  if (p === 'string' || p === 'bytes') return { type: p, nullable: false };
  if (Array.isArray(t) && t.length === 2) {
    const [a, b] = t.map(primitiveOf);
    const other = a === 'null' ? b : b === 'null' ? a : undefined;
    if (other === 'string' || other === 'bytes') return { type: other, nullable: true };
  }
  return undefined;
}

function isTokenString(t: Json): boolean {
  return tokenableShape(t)?.type === 'string';
}

function hasTokens(plan: RecordPlan): boolean {
  return plan.fields.size > 0;
}

function parse(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new TokenizeError('TOKEN_SCHEMA_INVALID', 'the schema is not valid JSON', { cause: err });
  }
}

/**
 * The schema to register for an annotated application schema (see the module comment). A schema
 * without annotations comes back unchanged (same text); a derived schema is a fixed point.
 */
export function deriveTokenSchema(schemaText: string): {
  readonly text: string;
  readonly fields: readonly TokenFieldDescription[];
} {
  const w = new Walker(true);
  const { node, plan } = w.node(parse(schemaText), '', true, '');
  const fields = plan === undefined ? [] : describePlan(plan);
  if (!schemaText.includes(TOKENIZE_ANNOTATION)) return { text: schemaText, fields };
  return { text: JSON.stringify(node), fields };
}

/** The token plan of a registered (derived) writer schema; empty when it has no token fields. */
export function tokenPlan(writerSchemaText: string): RecordPlan {
  if (!writerSchemaText.includes('sealpost.')) return { fields: new Map() };
  const w = new Walker(false);
  const { plan } = w.node(parse(writerSchemaText), '', true, '');
  if (writerSchemaText.includes(TOKENIZE_ANNOTATION)) {
    // An annotated but underived schema was registered: its values would travel in the clear.
    throw new TokenizeError(
      'TOKEN_SCHEMA_INVALID',
      `the writer schema still carries ${TOKENIZE_ANNOTATION}; register the derived schema`,
    );
  }
  return plan ?? { fields: new Map() };
}

/** Lists the token fields of a plan with dotted paths (for consumers and the CLI). */
export function describePlan(
  plan: RecordPlan,
  prefix = '',
  ancestors: readonly RecordPlan[] = [],
): TokenFieldDescription[] {
  // A recursive record is listed once along each path (its own recursion is not unrolled).
  if (ancestors.includes(plan)) return [];
  const out: TokenFieldDescription[] = [];
  for (const [name, f] of plan.fields) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    if (f.kind === 'token')
      out.push({
        path,
        mode: f.mode,
        tokenClass: f.tokenClass,
        type: f.type,
        nullable: f.nullable,
      });
    else out.push(...describePlan(f.plan, path, [...ancestors, plan]));
  }
  return out;
}
