/**
 * The body codec's version-2 extension block (docs/SPEC.md §2.1, §5 step 8): exact layout, lengths
 * checked before use, unknown non-critical extensions skipped, critical ones rejected, version-1 bodies
 * still accepted; and the trace context through a real seal and open.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  type BodyTraceContext,
  bodyLength,
  parseBody,
  parseExtensions,
  writeBody,
} from '../../../src/envelope/body.js';
import { writeU16, writeU32 } from '../../../src/envelope/bytes.js';
import { BODY_FIXED_BYTES, type OpenResult, SequenceCounter } from '../../../src/envelope/index.js';
import { codeOf } from './support/outcome.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

const MESSAGE_ID = new Uint8Array(16).fill(7);
const CONTENT_TYPE = new TextEncoder().encode('application/vnd.test');
const PAYLOAD = new TextEncoder().encode('a payload');
const TC: BodyTraceContext = {
  traceId: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  spanId: Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i),
  traceFlags: 1,
};

function body(tc: BodyTraceContext | null): Uint8Array {
  const b = new Uint8Array(bodyLength(CONTENT_TYPE.length, PAYLOAD.length, tc !== null));
  const end = writeBody(b, 0, MESSAGE_ID, 1000, 3, SCHEMA_FP, CONTENT_TYPE, PAYLOAD, tc);
  expect(end).toBe(b.length);
  return b;
}

/** A version-2 body whose extension block is exactly `ext` (the u16 length written to match). */
function v2With(ext: Uint8Array, declaredExtLength = ext.length): Uint8Array {
  const base = BODY_FIXED_BYTES + CONTENT_TYPE.length + PAYLOAD.length;
  const b = new Uint8Array(base + 2 + ext.length);
  writeBody(b, 0, MESSAGE_ID, 1000, 3, SCHEMA_FP, CONTENT_TYPE, PAYLOAD);
  b[0] = 2;
  writeU16(b, base, declaredExtLength);
  b.set(ext, base + 2);
  return b;
}

/** The trace-context extension entry: type 1, length 26, version 0, ids, flags. */
function traceEntry(
  over: { version?: number; len?: number; traceId?: number; spanId?: number } = {},
) {
  const e = new Uint8Array(2 + 26);
  e[0] = 1;
  e[1] = over.len ?? 26;
  e[2] = over.version ?? 0;
  e.fill(over.traceId ?? 0x11, 3, 19);
  e.fill(over.spanId ?? 0x22, 19, 27);
  e[27] = 1;
  return e;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('body codec: version 1 and the version-2 extension block', () => {
  it('writes version 1 without a trace context and parses it unchanged', () => {
    const b = body(null);
    expect(b[0]).toBe(1);
    expect(b.length).toBe(BODY_FIXED_BYTES + CONTENT_TYPE.length + PAYLOAD.length);
    const m = parseBody(b)!;
    expect(m.traceContext).toBeNull();
    expect(hex(m.payload)).toBe(hex(PAYLOAD));
    expect(m.entityVersion).toBe(3);
  });

  it('writes version 2 with the trace-context extension (30 bytes more) and parses it back', () => {
    const b = body(TC);
    expect(b[0]).toBe(2);
    expect(b.length).toBe(BODY_FIXED_BYTES + CONTENT_TYPE.length + PAYLOAD.length + 30);
    const tail = b.subarray(b.length - 30);
    expect(hex(tail)).toBe(`001c011a00${hex(TC.traceId)}${hex(TC.spanId)}01`);
    const m = parseBody(b)!;
    expect(hex(m.payload)).toBe(hex(PAYLOAD));
    expect(m.contentType).toBe('application/vnd.test');
    expect(hex(m.traceContext!.traceId)).toBe(hex(TC.traceId));
    expect(hex(m.traceContext!.spanId)).toBe(hex(TC.spanId));
    expect(m.traceContext!.traceFlags).toBe(1);
    // Copied out: the caller's buffer is scratch, reused for the next message.
    b.fill(0);
    expect(hex(m.traceContext!.traceId)).toBe(hex(TC.traceId));
    expect(hex(m.payload)).toBe(hex(PAYLOAD));
  });

  it('accepts a version-2 body with an empty extension block', () => {
    const m = parseBody(v2With(new Uint8Array(0)))!;
    expect(m.traceContext).toBeNull();
    expect(hex(m.payload)).toBe(hex(PAYLOAD));
  });

  it('skips an unknown non-critical extension, keeps the known one', () => {
    const unknown = Uint8Array.of(0x05, 3, 9, 9, 9);
    const m = parseBody(v2With(Uint8Array.of(...traceEntry(), ...unknown)))!;
    expect(m.traceContext!.traceFlags).toBe(1);
    expect(hex(m.traceContext!.spanId)).toBe('2222222222222222');
    expect(parseBody(v2With(unknown))!.traceContext).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(0x7f, 0)))!.traceContext).toBeNull();
  });

  it('rejects an unknown critical extension (type bit 7 set)', () => {
    expect(parseBody(v2With(Uint8Array.of(0x80, 0)))).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(...traceEntry(), 0x81, 1, 0)))).toBeNull();
  });

  it('rejects extensions out of order or repeated', () => {
    expect(parseBody(v2With(Uint8Array.of(0x05, 0, ...traceEntry())))).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(...traceEntry(), ...traceEntry())))).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(0x05, 0, 0x05, 0)))).toBeNull();
  });

  it('rejects a malformed trace context: length, version, all-zero ids', () => {
    const short = traceEntry({ len: 25 }).subarray(0, 27);
    expect(parseBody(v2With(short))).toBeNull();
    const long = Uint8Array.of(...traceEntry({ len: 27 }), 0);
    expect(parseBody(v2With(long))).toBeNull();
    expect(parseBody(v2With(traceEntry({ version: 1 })))).toBeNull();
    expect(parseBody(v2With(traceEntry({ version: 0xff })))).toBeNull();
    expect(parseBody(v2With(traceEntry({ traceId: 0 })))).toBeNull();
    expect(parseBody(v2With(traceEntry({ spanId: 0 })))).toBeNull();
  });

  it('rejects hostile lengths: extension length not filling the body, entries past the block', () => {
    const entry = traceEntry();
    // The u16 extension length must equal what follows it exactly.
    expect(parseBody(v2With(entry, entry.length - 1))).toBeNull();
    expect(parseBody(v2With(entry, entry.length + 1))).toBeNull();
    expect(parseBody(v2With(entry, 0xffff))).toBeNull();
    expect(parseBody(v2With(new Uint8Array(0), 0xffff))).toBeNull();
    // An entry whose length runs past the block, or a lone type byte.
    expect(parseBody(v2With(Uint8Array.of(0x05, 0xff, 1, 2)))).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(0x05, 3, 1, 2)))).toBeNull();
    expect(parseBody(v2With(Uint8Array.of(0x05)))).toBeNull();
    // A payload length that swallows the extension length (or more) in a version-2 body.
    const b = body(TC);
    const payloadLenAt = BODY_FIXED_BYTES - 4 + CONTENT_TYPE.length;
    for (const n of [PAYLOAD.length + 29, PAYLOAD.length + 30, PAYLOAD.length + 31, 0xffff_ffff]) {
      const c = Uint8Array.from(b);
      writeU32(c, payloadLenAt, n);
      expect(parseBody(c)).toBeNull();
    }
    // A content-type length reaching into the extension length.
    const c = Uint8Array.from(b);
    writeU16(
      c,
      payloadLenAt - 2 - CONTENT_TYPE.length,
      CONTENT_TYPE.length + 4 + PAYLOAD.length + 1,
    );
    expect(parseBody(c)).toBeNull();
    // Truncated anywhere in the extension block.
    for (let cut = 1; cut <= 30; cut++) expect(parseBody(b.subarray(0, b.length - cut))).toBeNull();
    // A version-1 body must not carry anything after its payload.
    expect(parseBody(Uint8Array.of(...body(null), 0, 0))).toBeNull();
    // Unknown body versions.
    for (const v of [0, 3, 0xff]) {
      const d = Uint8Array.from(b);
      d[0] = v;
      expect(parseBody(d)).toBeNull();
    }
  });

  it('never throws and never reads past the block, for any extension bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (ext) => {
        const r = parseExtensions(ext);
        if (r === null) return;
        // Whatever parsed is well-formed.
        if (r.traceContext !== null) {
          expect(r.traceContext.traceId.length).toBe(16);
          expect(r.traceContext.spanId.length).toBe(8);
        }
      }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 0xffff }),
        (e, n) => {
          const b = v2With(e, n);
          const r = parseBody(b);
          if (n !== e.length) expect(r).toBeNull();
        },
      ),
    );
  });
});

describe('trace context through seal and open', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  function delivered(r: OpenResult) {
    if (r.kind !== 'delivered') throw new Error(`expected delivered, got ${r.kind}`);
    return r.message;
  }

  it('a sealed trace context opens intact (signed and unsigned); none opens as absent', () => {
    for (const signEveryMessage of [false, true]) {
      const s = w.session('alice', ['bob'], { signEveryMessage });
      const bob = w.opener('bob');
      const seqs = new SequenceCounter(s.streamId);
      const input = {
        partition: 1,
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'application/vnd.test',
        payload: PAYLOAD,
      };
      const traced = s.seal({ ...input, seq: seqs.next(1), traceContext: TC });
      const plain = s.seal({ ...input, seq: seqs.next(1) });
      // The extension costs 30 body bytes; padmé may or may not move the padded length.
      expect(traced.value.length).toBeGreaterThanOrEqual(plain.value.length);
      const m1 = delivered(bob.open(traced.value, { topic: TOPIC, partition: 1, key: null }));
      expect(hex(m1.traceContext!.traceId)).toBe(hex(TC.traceId));
      expect(hex(m1.traceContext!.spanId)).toBe(hex(TC.spanId));
      expect(m1.traceContext!.traceFlags).toBe(1);
      expect(m1.recipientCount).toBe(1);
      const m2 = delivered(bob.open(plain.value, { topic: TOPIC, partition: 1, key: null }));
      expect(m2.traceContext).toBeUndefined();
      s.close();
      bob.close();
    }
  });

  it('refuses an invalid trace context at seal time', () => {
    const s = w.session('alice', ['bob']);
    const input = {
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'application/vnd.test',
      payload: PAYLOAD,
    };
    for (const traceContext of [
      { ...TC, traceId: new Uint8Array(16) },
      { ...TC, spanId: new Uint8Array(7).fill(1) },
      { ...TC, traceFlags: 256 },
    ]) {
      expect(codeOf(() => s.seal({ ...input, traceContext }))).toBe('ARGUMENT_INVALID');
    }
    s.close();
  });
});
