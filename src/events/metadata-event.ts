/**
 * Metadata events: what sealpost's producers, consumers and tools tell the audit worker. They carry
 * identifiers, coordinates, sizes and times — never a payload, a key or a token. They travel sealed
 * to the `audit` identity on the metadata topic (see docs/SPEC.md) and end in the audit log.
 */
export const METADATA_EVENT_TYPES = [
  'sealed',
  'opened',
  'rejected',
  'duplicate',
  'skipped',
  'session_opened',
  'key_unwrapped',
  'key_rotated',
  'key_destroyed',
  'replay_reset',
  'detokenized',
  'detokenize_refused',
  'dead_lettered',
  'released',
] as const;

export type MetadataEventType = (typeof METADATA_EVENT_TYPES)[number];

/** One audited action. Optional fields are absent (not null) when they do not apply. */
export interface MetadataEvent {
  /** 32 lowercase hex characters (16 random bytes): the idempotency key in the audit log. */
  readonly eventId: string;
  readonly type: MetadataEventType;
  /** Milliseconds since the epoch, by the emitter's clock. */
  readonly timeMs: number;
  /** The identity that emitted the event. */
  readonly actor: string;
  readonly messageId?: string;
  readonly sender?: string;
  readonly recipients?: readonly string[];
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly schemaId?: number;
  /** Hex BLAKE2b digest of the ciphertext (the envelope's `digest`). */
  readonly ciphertextDigest?: string;
  readonly sizeBytes?: number;
  /** Coarse rejection class, for `rejected` and `dead_lettered`. */
  readonly reason?: string;
  /** Detailed rejection code: only ever travels sealed. */
  readonly detail?: string;
  /** Consumer group, for consumer-side events. */
  readonly group?: string;
  /** Key id concerned, for key events. */
  readonly kid?: string;
  /**
   * The envelope suite of the record or session (docs/SECURITY.md "Post-quantum sealing"), set only
   * for suite 2 (X-Wing): absent means suite 1, so suite-1 events keep their canonical bytes.
   */
  readonly suite?: number;
}

/** Every field, in canonical order (the order of the canonical bytes). */
const EVENT_FIELDS: readonly (keyof MetadataEvent)[] = [
  'eventId',
  'type',
  'timeMs',
  'actor',
  'messageId',
  'sender',
  'recipients',
  'topic',
  'partition',
  'offset',
  'schemaId',
  'ciphertextDigest',
  'sizeBytes',
  'reason',
  'detail',
  'group',
  'kid',
  'suite',
];

const HEX32 = /^[0-9a-f]{32}$/;
const IDENTITY = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Checks an event decoded from outside (the metadata topic) field by field; returns the list of
 * problems (empty when valid). Unknown fields are problems too: events are closed records.
 */
export function validateMetadataEvent(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return ['event is not an object'];
  }
  const v = value as Record<string, unknown>;
  const known: ReadonlySet<string> = new Set(EVENT_FIELDS);
  for (const key of Object.keys(v)) if (!known.has(key)) problems.push(`unknown field ${key}`);
  if (typeof v.eventId !== 'string' || !HEX32.test(v.eventId))
    problems.push('eventId must be 32 hex');
  if (typeof v.type !== 'string' || !(METADATA_EVENT_TYPES as readonly string[]).includes(v.type)) {
    problems.push('type is not a known event type');
  }
  if (!Number.isSafeInteger(v.timeMs) || (v.timeMs as number) < 0) problems.push('timeMs invalid');
  if (typeof v.actor !== 'string' || !IDENTITY.test(v.actor)) problems.push('actor invalid');
  const optString = (k: string, max: number): void => {
    const value = v[k];
    if (value !== undefined && (typeof value !== 'string' || value.length > max)) {
      problems.push(`${k} invalid`);
    }
  };
  for (const k of [
    'messageId',
    'sender',
    'offset',
    'ciphertextDigest',
    'reason',
    'detail',
    'group',
    'kid',
  ]) {
    optString(k, 256);
  }
  optString('topic', 249);
  if (v.suite !== undefined && v.suite !== 1 && v.suite !== 2) problems.push('suite invalid');
  for (const k of ['partition', 'schemaId', 'sizeBytes']) {
    if (v[k] !== undefined && (!Number.isSafeInteger(v[k]) || (v[k] as number) < 0)) {
      problems.push(`${k} invalid`);
    }
  }
  if (v.recipients !== undefined) {
    if (
      !Array.isArray(v.recipients) ||
      v.recipients.length > 16 ||
      !v.recipients.every((r) => typeof r === 'string' && IDENTITY.test(r))
    ) {
      problems.push('recipients invalid');
    }
  }
  return problems;
}

/**
 * The canonical bytes of an event: JSON with keys in a fixed order and absent fields left out, so
 * the same event always hashes the same in the audit chain.
 */
export function canonicalEventBytes(event: MetadataEvent): Uint8Array {
  const ordered: Record<string, unknown> = {};

  for (const k of EVENT_FIELDS) if (event[k] !== undefined) ordered[k] = event[k];
  return new TextEncoder().encode(JSON.stringify(ordered));
}
