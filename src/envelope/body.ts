import { markAsUntransferable } from 'node:worker_threads';
import {
  copyBytes,
  isU53,
  readU16,
  readU32,
  readU64,
  writeU16,
  writeU32,
  writeU64,
} from './bytes.js';
import {
  BODY_EXT_CRITICAL,
  BODY_EXT_TRACE_CONTEXT,
  BODY_EXTENSIONS_LENGTH_BYTES,
  BODY_FIXED_BYTES,
  BODY_VERSION,
  BODY_VERSION_EXTENDED,
  MESSAGE_ID_BYTES,
  SCHEMA_FP_BYTES,
  SPAN_ID_BYTES,
  TRACE_CONTEXT_BYTES,
  TRACE_ID_BYTES,
} from './constants.js';

/**
 * A W3C trace context in binary form (docs/SPEC.md §2.1): the sender's span, carried inside the
 * sealed body so only recipients can link their spans to it. Never tracestate or baggage.
 */
export interface BodyTraceContext {
  /** 16 bytes, not all zero. */
  readonly traceId: Uint8Array;
  /** 8 bytes, not all zero. */
  readonly spanId: Uint8Array;
  /** W3C trace flags (bit 0 = sampled); other bits are carried, not interpreted. */
  readonly traceFlags: number;
}

/**
 * The sealed body (docs/SPEC.md §2): `u8 version ‖ messageId[16] ‖ u64 createdAtMs ‖
 * u64 entityVersion ‖ schemaFp[16] ‖ u16 |contentType| ‖ contentType ‖ u32 |payload| ‖ payload`,
 * and for version 2 `‖ u16 |extensions| ‖ extensions` (§2.1). No sender name: the sender is whoever
 * verified.
 */
export interface MessageBody {
  readonly messageId: Uint8Array;
  readonly createdAtMs: number;
  /** Monotonic version of the keyed entity for compacted topics; 0 = unused. */
  readonly entityVersion: number;
  readonly schemaFp: Uint8Array;
  readonly contentType: string;
  readonly payload: Uint8Array;
  /** From the trace-context extension of a version-2 body; null when absent. */
  readonly traceContext: BodyTraceContext | null;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Opened bodies are carved out of 64 KiB slabs that hold nothing else: a backing store per message
 * (`new Uint8Array(n)`) costs ≈ 0.7 µs, a carve ≈ 0.05 µs. A slab lives while any view of it does;
 * the pipeline zeroes each payload once decoded. Bodies over 8 KiB get their own allocation (see
 * parseBody).
 */
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * `n` bytes of the current slab, or of a new one when they do not fit. A slab is marked
 * untransferable (as Node marks its own Buffer pool): a handler that transfers a payload's memory to
 * a worker gets it copied instead of detaching the bodies of other messages.
 */
function takeFromSlab(n: number): number {
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    markAsUntransferable(slab.buffer);
    slabUsed = 0;
  }
  const at = slabUsed;
  slabUsed += n;
  return at;
}

/**
 * `n` bytes of a slab of opened bodies (zeroed memory): the opener decrypts a message straight into
 * one and parses it in place (parseBody with `inPlace`), so the delivered views need no second copy.
 */
export function carveOpenedBody(n: number): Uint8Array {
  if (n > SLAB_BYTES / 8) return new Uint8Array(n);
  const at = takeFromSlab(n);
  return slab.subarray(at, at + n);
}

/** Offset of schemaFp in a body: version ‖ messageId ‖ createdAt ‖ entityVersion. */
const SCHEMA_FP_AT = 1 + MESSAGE_ID_BYTES + 8 + 8;

/** The extension block of a body carrying a trace context: u16 length ‖ u8 type ‖ u8 len ‖ value. */
const TRACE_EXTENSION_BLOCK_BYTES = BODY_EXTENSIONS_LENGTH_BYTES + 2 + TRACE_CONTEXT_BYTES; // 30

/**
 * Body length for a given content-type byte length and payload length; a body with a trace context
 * is a version-2 body with one extension.
 */
export function bodyLength(
  contentTypeBytes: number,
  payloadBytes: number,
  withTraceContext = false,
): number {
  return (
    BODY_FIXED_BYTES +
    contentTypeBytes +
    payloadBytes +
    (withTraceContext ? TRACE_EXTENSION_BLOCK_BYTES : 0)
  );
}

/** True for a trace context the body may carry: exact sizes, ids not all zero, flags a byte. */
export function isValidTraceContext(tc: BodyTraceContext): boolean {
  return (
    tc.traceId instanceof Uint8Array &&
    tc.traceId.length === TRACE_ID_BYTES &&
    tc.spanId instanceof Uint8Array &&
    tc.spanId.length === SPAN_ID_BYTES &&
    Number.isInteger(tc.traceFlags) &&
    tc.traceFlags >= 0 &&
    tc.traceFlags <= 0xff &&
    !isAllZero(tc.traceId, 0, TRACE_ID_BYTES) &&
    !isAllZero(tc.spanId, 0, SPAN_ID_BYTES)
  );
}

function isAllZero(b: Uint8Array, from: number, to: number): boolean {
  let acc = 0;
  for (let i = from; i < to; i++) acc |= b[i]!;
  return acc === 0;
}

/**
 * Writes a body at `off` (sizes validated by the caller; a trace context by isValidTraceContext):
 * version 1 without a trace context, version 2 with it. Returns the end offset.
 */
export function writeBody(
  buf: Uint8Array,
  off: number,
  messageId: Uint8Array,
  createdAtMs: number,
  entityVersion: number,
  schemaFp: Uint8Array,
  contentType: Uint8Array,
  payload: Uint8Array,
  traceContext: BodyTraceContext | null = null,
): number {
  buf[off++] = traceContext === null ? BODY_VERSION : BODY_VERSION_EXTENDED;
  buf.set(messageId, off);
  off += MESSAGE_ID_BYTES;
  off = writeU64(buf, off, createdAtMs);
  off = writeU64(buf, off, entityVersion);
  buf.set(schemaFp, off);
  off += SCHEMA_FP_BYTES;
  off = writeU16(buf, off, contentType.length);
  buf.set(contentType, off);
  off += contentType.length;
  off = writeU32(buf, off, payload.length);
  buf.set(payload, off);
  off += payload.length;
  if (traceContext === null) return off;
  off = writeU16(buf, off, 2 + TRACE_CONTEXT_BYTES);
  buf[off++] = BODY_EXT_TRACE_CONTEXT;
  buf[off++] = TRACE_CONTEXT_BYTES;
  buf[off++] = 0; // trace context version
  buf.set(traceContext.traceId, off);
  off += TRACE_ID_BYTES;
  buf.set(traceContext.spanId, off);
  off += SPAN_ID_BYTES;
  buf[off++] = traceContext.traceFlags;
  return off;
}

/** Remembers the last content type decoded (a session's messages usually share one). */
export interface ContentTypeMemo {
  bytes: Uint8Array;
  text: string;
}

/**
 * True when `memo` equals `buf[at, at + n)`: a plain loop (a content type is a few dozen public
 * bytes), no view and no native call.
 */
function memoHolds(memo: Uint8Array, buf: Uint8Array, at: number, n: number): boolean {
  if (memo.length !== n) return false;
  for (let i = 0; i < n; i++) if (memo[i] !== buf[at + i]) return false;
  return true;
}

/**
 * Parses a body that must fill `buf[start, end)` exactly (docs/SPEC.md §5 step 8, §2.1; the whole of
 * `buf` by default). Returns null on any deviation. The returned byte fields are views into ONE copy
 * of the body from messageId to the end of the payload, carved from a slab of opened bodies, not into
 * `buf` (a scratch buffer the caller reuses) — unless `inPlace`: then they are views into `buf`
 * itself (memory the caller hands out with the message, see carveOpenedBody). A trace context is
 * copied out.
 */
export function parseBody(
  buf: Uint8Array,
  memo?: ContentTypeMemo,
  start = 0,
  end = buf.length,
  inPlace = false,
): MessageBody | null {
  const out = emptyParsedBody();
  return parseBodyInto(out, buf, memo, start, end, inPlace) ? out : null;
}

/** A body to parse into (parseBodyInto): no views, nothing set. */
export function emptyParsedBody(): ParsedBody {
  return {
    messageId: NO_BYTES,
    createdAtMs: 0,
    entityVersion: 0,
    schemaFp: NO_BYTES,
    contentType: '',
    payload: NO_BYTES,
    traceContext: null,
  };
}

/** A body's fields as parseBodyInto writes them. */
export type ParsedBody = { -readonly [K in keyof MessageBody]: MessageBody[K] };

const NO_BYTES = new Uint8Array(0);

/**
 * parseBody writing into `out` (false, `out` in an unspecified state, on any deviation): for a
 * per-message caller that copies the fields at once (no result object per body).
 */
export function parseBodyInto(
  out: ParsedBody,
  buf: Uint8Array,
  memo: ContentTypeMemo | undefined,
  start: number,
  end: number,
  inPlace: boolean,
): boolean {
  if (end - start < BODY_FIXED_BYTES) return false;
  const version = buf[start];
  if (version !== BODY_VERSION && version !== BODY_VERSION_EXTENDED) return false;
  // What follows the payload: nothing (version 1) or at least the u16 extension length (version 2).
  const tail = version === BODY_VERSION ? 0 : BODY_EXTENSIONS_LENGTH_BYTES;
  const createdAtMs = readU64(buf, start + 1 + MESSAGE_ID_BYTES);
  const entityVersion = readU64(buf, start + 1 + MESSAGE_ID_BYTES + 8);
  if (!isU53(createdAtMs) || !isU53(entityVersion)) return false;
  let off = start + SCHEMA_FP_AT + SCHEMA_FP_BYTES;
  const ctLen = readU16(buf, off);
  off += 2;
  if (ctLen > end - off - 4 - tail) return false;
  let contentType: string;
  if (memo !== undefined && memoHolds(memo.bytes, buf, off, ctLen)) {
    contentType = memo.text;
  } else {
    const ctBytes = buf.subarray(off, off + ctLen);
    try {
      contentType = utf8Decoder.decode(ctBytes);
    } catch {
      return false;
    }
    if (memo !== undefined) {
      memo.bytes = copyBytes(ctBytes);
      memo.text = contentType;
    }
  }
  off += ctLen;
  const payloadLen = readU32(buf, off);
  off += 4;
  let traceContext: BodyTraceContext | null = null;
  if (version === BODY_VERSION) {
    if (payloadLen !== end - off) return false;
  } else {
    if (payloadLen > end - off - tail) return false;
    const extAt = off + payloadLen;
    const extLen = readU16(buf, extAt);
    if (extLen !== end - extAt - tail) return false;
    const ext = parseExtensions(buf.subarray(extAt + tail, end));
    if (ext === null) return false;
    traceContext = ext.traceContext;
  }
  if (inPlace) {
    const fpAt = start + SCHEMA_FP_AT;
    out.messageId = buf.subarray(start + 1, start + 1 + MESSAGE_ID_BYTES);
    out.createdAtMs = createdAtMs;
    out.entityVersion = entityVersion;
    out.schemaFp = buf.subarray(fpAt, fpAt + SCHEMA_FP_BYTES);
    out.contentType = contentType;
    out.payload = buf.subarray(off, off + payloadLen);
    out.traceContext = traceContext;
    return true;
  }
  // One copy of messageId … payload: the fixed fields and content type between them come along (all
  // delivered in the message anyway); the pipeline zeroes the payload once decoded.
  const from = start + 1;
  const to = off + payloadLen;
  const n = to - from;
  let store: Uint8Array;
  let at: number;
  if (n > SLAB_BYTES / 8) {
    store = new Uint8Array(n);
    at = 0;
  } else {
    at = takeFromSlab(n);
    store = slab;
  }
  store.set(buf.subarray(from, to), at);
  const fpAt = at + SCHEMA_FP_AT - 1;
  out.messageId = store.subarray(at, at + MESSAGE_ID_BYTES);
  out.createdAtMs = createdAtMs;
  out.entityVersion = entityVersion;
  out.schemaFp = store.subarray(fpAt, fpAt + SCHEMA_FP_BYTES);
  out.contentType = contentType;
  out.payload = store.subarray(at + (off - from), at + n);
  out.traceContext = traceContext;
  return true;
}

/**
 * Parses an extension block that must fill `ext` exactly (docs/SPEC.md §2.1): entries
 * `u8 type ‖ u8 len ‖ value[len]` with types strictly ascending. A known type must have its exact
 * layout; an unknown type is skipped unless its critical bit (0x80) is set. Null on any deviation.
 */
export function parseExtensions(
  ext: Uint8Array,
): { readonly traceContext: BodyTraceContext | null } | null {
  let traceContext: BodyTraceContext | null = null;
  let off = 0;
  let lastType = -1;
  while (off < ext.length) {
    if (ext.length - off < 2) return null;
    const type = ext[off]!;
    const len = ext[off + 1]!;
    off += 2;
    if (type <= lastType || len > ext.length - off) return null;
    lastType = type;
    if (type === BODY_EXT_TRACE_CONTEXT) {
      traceContext = parseTraceContext(ext, off, len);
      if (traceContext === null) return null;
    } else if ((type & BODY_EXT_CRITICAL) !== 0) {
      return null;
    }
    off += len;
  }
  return { traceContext };
}

function parseTraceContext(b: Uint8Array, off: number, len: number): BodyTraceContext | null {
  if (len !== TRACE_CONTEXT_BYTES || b[off] !== 0) return null;
  const idAt = off + 1;
  const spanAt = idAt + TRACE_ID_BYTES;
  if (isAllZero(b, idAt, spanAt) || isAllZero(b, spanAt, spanAt + SPAN_ID_BYTES)) return null;
  return {
    traceId: copyBytes(b, idAt, spanAt),
    spanId: copyBytes(b, spanAt, spanAt + SPAN_ID_BYTES),
    traceFlags: b[spanAt + SPAN_ID_BYTES]!,
  };
}
