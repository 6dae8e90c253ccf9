/**
 * SealingSession.sealRecord (the pipeline's seal): the same record as seal, its value a Node Buffer
 * carved from the same slabs as seal's values — each value its own, unchanged by later seals of
 * either kind, opening to its own payload and the message id given.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SequenceCounter } from '../../../src/envelope/index.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

describe('sealRecord values', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  it('are Buffers, disjoint from seal values, unchanged by later seals, and open to their own payload and id', () => {
    const s = w.session('alice', ['bob']);
    const seqs = new SequenceCounter(s.streamId);
    // Sizes from a few bytes to past the slab's per-value limit (8 KiB), over several slabs; seal
    // and sealRecord alternate on the same slabs; one message id scratch reused for every record.
    const scratch = new Uint8Array(16);
    const sizes = Array.from({ length: 300 }, (_, i) => (i * 997) % 12_000);
    const sealed = sizes.map((n, i) => {
      const payload = p.randomBytes(n);
      p.randomFill(scratch);
      const messageId = Uint8Array.from(scratch);
      const input = {
        partition: 0,
        seq: seqs.next(0),
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'application/octet-stream',
        payload,
        messageId: scratch,
      };
      const asRecord = i % 2 === 0;
      const r = asRecord ? s.sealRecord(input) : s.seal(input);
      expect(r.messageId).toBe(scratch);
      return { payload, messageId, asRecord, value: r.value, copy: Uint8Array.from(r.value) };
    });
    const bob = w.opener('bob');
    for (const [i, x] of sealed.entries()) {
      expect(x.value instanceof Buffer, `value ${i}`).toBe(x.asRecord);
      expect(Buffer.from(x.value).equals(Buffer.from(x.copy)), `value ${i} changed`).toBe(true);
      const r = bob.open(x.value, { topic: TOPIC, partition: 0, key: null });
      if (r.kind !== 'delivered') throw new Error(`value ${i}: ${r.kind}`);
      expect(Buffer.from(r.message.payload).equals(Buffer.from(x.payload))).toBe(true);
      expect(Buffer.from(r.message.messageId).equals(Buffer.from(x.messageId))).toBe(true);
    }
    // Two values of one slab never overlap, whichever call carved them.
    const first = sealed[0]!.value.buffer;
    const ranges = sealed
      .filter((x) => x.value.buffer === first)
      .map((x) => [x.value.byteOffset, x.value.byteOffset + x.value.length] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(sealed.filter((x) => x.value.buffer === first && !x.asRecord).length).toBeGreaterThan(0);
    expect(sealed.filter((x) => x.value.buffer === first && x.asRecord).length).toBeGreaterThan(0);
    for (let i = 1; i < ranges.length; i++)
      expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  });
});
