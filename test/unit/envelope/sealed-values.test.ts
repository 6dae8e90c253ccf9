/**
 * Sealed record values share slabs of memory (sealing-session.ts): each value must stay its own,
 * unchanged by later seals, whatever its size, and open as sealed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SequenceCounter } from '../../../src/envelope/index.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

describe('sealed record values', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  it('are disjoint, unchanged by later seals, and each opens to its own payload', () => {
    const s = w.session('alice', ['bob']);
    const seqs = new SequenceCounter(s.streamId);
    // Sizes from a few bytes to past the slab's per-value limit (8 KiB), over several slabs.
    const sizes = Array.from({ length: 300 }, (_, i) => (i * 997) % 12_000);
    const sealed = sizes.map((n) => {
      const payload = p.randomBytes(n);
      const v = s.seal({
        partition: 0,
        seq: seqs.next(0),
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: 'application/octet-stream',
        payload,
      }).value;
      return { payload, value: v, copy: Uint8Array.from(v) };
    });
    const bob = w.opener('bob');
    for (const [i, x] of sealed.entries()) {
      expect(x.value).not.toBeInstanceOf(Buffer);
      expect(Buffer.from(x.value).equals(Buffer.from(x.copy)), `value ${i} changed`).toBe(true);
      const r = bob.open(x.value, { topic: TOPIC, partition: 0, key: null });
      if (r.kind !== 'delivered') throw new Error(`value ${i}: ${r.kind}`);
      expect(Buffer.from(r.message.payload).equals(Buffer.from(x.payload))).toBe(true);
    }
    // Two values of one slab never overlap.
    const ranges = sealed
      .filter((x) => x.value.buffer === sealed[0]!.value.buffer)
      .map((x) => [x.value.byteOffset, x.value.byteOffset + x.value.length] as const)
      .sort((a, b) => a[0] - b[0]);
    expect(ranges.length).toBeGreaterThan(1);
    for (let i = 1; i < ranges.length; i++)
      expect(ranges[i]![0]).toBeGreaterThanOrEqual(ranges[i - 1]![1]);
  });

  it('cannot be detached by transferring their memory to a worker (it is copied, or the transfer refused)', () => {
    const s = w.session('alice', ['bob']);
    const v = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: 'application/octet-stream',
      payload: p.randomBytes(100),
    }).value;
    const copy = Uint8Array.from(v);
    const { port1, port2 } = new MessageChannel();
    try {
      const memory = v.buffer as ArrayBuffer;
      // Node 20 copies an untransferable buffer named in the transfer list; later Nodes refuse it
      // (DataCloneError). Either way the memory stays attached.
      try {
        port1.postMessage(memory, [memory]);
      } catch (err) {
        expect((err as Error).name).toBe('DataCloneError');
      }
    } finally {
      port1.close();
      port2.close();
    }
    expect(v.length).toBe(copy.length);
    expect(Buffer.from(v).equals(Buffer.from(copy))).toBe(true);
  });
});
