/**
 * Envelope test vectors, one file per case (age-style): `key: value` lines, `#` comments, hex for
 * bytes. The loop test (vectors.test.ts) opens `envelope` as the recipient at (topic, partition, key)
 * at `now-ms` against a directory holding only the sender, and requires `expect`:
 * `success` (then `payload`, `content-type`, `sender` must match), `not-addressed`, or `<coarse>:<code>`.
 */
export interface EnvelopeVector {
  readonly name: string;
  readonly expect: string;
  readonly comment: string;
  readonly schemaId: number;
  /**
   * Optional (`suite2-schema-id`): the pinned id of the suite-2 envelope schema (docs/SPEC.md §2.2);
   * absent = the opener pins none and refuses suite-2 records.
   */
  readonly suite2SchemaId?: number;
  /**
   * Optional (`suite`): the suite of the recipient's key, 1 (absent: an X25519 box key pair) or 2
   * (an X-Wing key pair: a 1,216-byte public key and the 32-byte seed as secret key).
   */
  readonly suite?: number;
  readonly namespace: Uint8Array;
  readonly topic: string;
  readonly partition: number;
  readonly key: Uint8Array | null;
  readonly nowMs: number;
  readonly recipientPublicKey: Uint8Array;
  readonly recipientSecretKey: Uint8Array;
  readonly sender: string;
  readonly senderSigningPublicKey: Uint8Array;
  /** active | retiring | revoked | unknown (unknown: not in the directory). */
  readonly senderStatus: string;
  readonly payload: Uint8Array | null;
  readonly contentType: string | null;
  /**
   * Optional (`trace-context`): the 26-byte trace-context extension value of the body (docs/SPEC.md
   * §2.1) a success must deliver; absent = the body carries none.
   */
  readonly traceContext?: Uint8Array;
  readonly envelope: Uint8Array;
}

const ORDER: [keyof EnvelopeVector, string][] = [
  ['expect', 'expect'],
  ['comment', 'comment'],
  ['schemaId', 'schema-id'],
  ['suite2SchemaId', 'suite2-schema-id'],
  ['suite', 'suite'],
  ['namespace', 'namespace'],
  ['topic', 'topic'],
  ['partition', 'partition'],
  ['key', 'key'],
  ['nowMs', 'now-ms'],
  ['recipientPublicKey', 'recipient-public-key'],
  ['recipientSecretKey', 'recipient-secret-key'],
  ['sender', 'sender'],
  ['senderSigningPublicKey', 'sender-signing-public-key'],
  ['senderStatus', 'sender-status'],
  ['contentType', 'content-type'],
  ['payload', 'payload'],
  ['traceContext', 'trace-context'],
  ['envelope', 'envelope'],
];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Serialises a vector (long hex wrapped at 96 characters, continuation lines indented). */
export function formatVector(v: EnvelopeVector): string {
  const lines: string[] = [];
  for (const [field, name] of ORDER) {
    const value = v[field];
    if (value === undefined) continue;
    let text: string;
    if (value === null) text = 'null';
    else if (value instanceof Uint8Array) text = hex(value);
    else text = String(value);
    if (value instanceof Uint8Array && text.length > 96) {
      lines.push(`${name}:`);
      for (let i = 0; i < text.length; i += 96) lines.push(`  ${text.slice(i, i + 96)}`);
    } else {
      lines.push(`${name}: ${text}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Parses a vector file; throws on unknown or missing fields. */
export function parseVector(name: string, text: string): EnvelopeVector {
  const fields = new Map<string, string>();
  let current: string | null = null;
  for (const raw of text.split('\n')) {
    if (raw.startsWith('#') || raw.trim() === '') continue;
    if (raw.startsWith('  ') && current !== null) {
      fields.set(current, (fields.get(current) ?? '') + raw.trim());
      continue;
    }
    const i = raw.indexOf(':');
    if (i < 0) throw new Error(`${name}: bad line ${raw}`);
    current = raw.slice(0, i);
    fields.set(current, raw.slice(i + 1).trim());
  }
  const get = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined) throw new Error(`${name}: missing ${k}`);
    return v;
  };
  const bytes = (k: string): Uint8Array => {
    const v = get(k);
    if (!/^([0-9a-f]{2})*$/.test(v)) throw new Error(`${name}: ${k} is not hex`);
    return Uint8Array.from(Buffer.from(v, 'hex'));
  };
  const nullableBytes = (k: string) => (get(k) === 'null' ? null : bytes(k));
  const known = new Set(ORDER.map(([, n]) => n));
  for (const k of fields.keys()) if (!known.has(k)) throw new Error(`${name}: unknown field ${k}`);
  return {
    name,
    expect: get('expect'),
    comment: get('comment'),
    schemaId: Number(get('schema-id')),
    ...(fields.has('suite2-schema-id') ? { suite2SchemaId: Number(get('suite2-schema-id')) } : {}),
    ...(fields.has('suite') ? { suite: Number(get('suite')) } : {}),
    namespace: bytes('namespace'),
    topic: get('topic'),
    partition: Number(get('partition')),
    key: nullableBytes('key'),
    nowMs: Number(get('now-ms')),
    recipientPublicKey: bytes('recipient-public-key'),
    recipientSecretKey: bytes('recipient-secret-key'),
    sender: get('sender'),
    senderSigningPublicKey: bytes('sender-signing-public-key'),
    senderStatus: get('sender-status'),
    contentType: get('content-type') === 'null' ? null : get('content-type'),
    payload: nullableBytes('payload'),
    ...(fields.has('trace-context') ? { traceContext: bytes('trace-context') } : {}),
    envelope: bytes('envelope'),
  };
}
