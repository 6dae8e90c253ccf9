/**
 * OpenedBodyScratch (src/envelope/opened-body-scratch.ts): a partition's records are opened into one
 * piece of memory, held by the record that opened it until released. A body opened for another record
 * while it is held — two batches of one partition overlapping — must not be written over it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import type { OpenedMessage } from '../../../src/envelope/index.js';
import {
  OPENED_BODY_SCRATCH_BYTES,
  OpenedBodyScratch,
} from '../../../src/envelope/opened-body-scratch.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

const overlaps = (a: Uint8Array, b: Uint8Array): boolean =>
  a.buffer === b.buffer &&
  a.byteOffset < b.byteOffset + b.length &&
  b.byteOffset < a.byteOffset + a.length;

describe('OpenedBodyScratch', () => {
  it('gives its memory to one owner at a time, and slab memory to any other until released', () => {
    const s = new OpenedBodyScratch();
    const a = {};
    const b = {};
    const forA = s.carve(100, a);
    const forB = s.carve(100, b);
    expect(overlaps(forA, forB)).toBe(false);
    s.release(b); // not the holder: nothing changes
    expect(overlaps(s.carve(100, b), forA)).toBe(false);
    expect(s.carve(50, a).buffer).toBe(forA.buffer); // the holder opens again (a retry in place)
    s.release(a);
    expect(s.carve(100, b).buffer).toBe(forA.buffer);
  });

  it('gives a body larger than the scratch memory of its own', () => {
    const s = new OpenedBodyScratch();
    const owner = {};
    const small = s.carve(10, owner);
    const big = s.carve(OPENED_BODY_SCRATCH_BYTES + 1, owner);
    expect(big.length).toBe(OPENED_BODY_SCRATCH_BYTES + 1);
    expect(overlaps(small, big)).toBe(false);
  });
});

describe('opening into a scratch', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  it('delivers intact messages, and never writes a held message over', () => {
    const session = w.session('alice', ['bob']);
    const seal = (seq: number, fill: number): Uint8Array =>
      session.seal({
        partition: 0,
        seq,
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'c',
        payload: new Uint8Array(300).fill(fill),
      }).value;
    const opener = w.opener('bob');
    const scratch = new OpenedBodyScratch();
    const open = (value: Uint8Array, ctx: object): OpenedMessage => {
      const r = opener.open(value, ctx as { topic: string; partition: number; key: null }, {
        body: scratch,
      });
      if (r.kind !== 'delivered') throw new Error(r.kind);
      return r.message;
    };
    const first = { topic: TOPIC, partition: 0, key: null };
    const m1 = open(seal(1, 0x11), first);
    const id1 = Buffer.from(m1.messageId).toString('hex');
    // Another record while the first holds the scratch: its own memory; the first stays intact.
    const m2 = open(seal(2, 0x22), { topic: TOPIC, partition: 0, key: null });
    expect(overlaps(m1.payload, m2.payload)).toBe(false);
    expect(m1.payload.every((x) => x === 0x11)).toBe(true);
    expect(Buffer.from(m1.messageId).toString('hex')).toBe(id1);
    expect(m2.payload.every((x) => x === 0x22)).toBe(true);
    // Released: the next record is opened into the scratch again.
    scratch.release(first);
    const m3 = open(seal(3, 0x33), { topic: TOPIC, partition: 0, key: null });
    expect(m3.payload.buffer).toBe(m1.payload.buffer);
    expect(m3.payload.every((x) => x === 0x33)).toBe(true);
  });
});
