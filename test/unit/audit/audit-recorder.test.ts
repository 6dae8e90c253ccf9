import { beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SqliteAuditStore } from '../../../src/audit/sqlite-audit-store.js';
import { AuditRecorder } from '../../../src/audit/audit-recorder.js';
import type { AuditCheckpoint } from '../../../src/audit/audit-checkpoint.js';
import { verifyAuditLog } from '../../../src/audit/verify-audit-log.js';
import { ManualClock } from '../../../src/runtime/clock.js';
import type { MetadataEvent } from '../../../src/events/metadata-event.js';

let crypto: CryptoProvider;
beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
});

const ev = (n: number): MetadataEvent => ({
  eventId: n.toString(16).padStart(32, '0'),
  type: 'sealed',
  timeMs: n,
  actor: 'orders',
});

function setup(publishFails = { value: false }) {
  const store = new SqliteAuditStore(':memory:', crypto);
  const keys = crypto.signKeyPair();
  const kid = new Uint8Array(16).fill(3);
  const clock = new ManualClock(1_000_000);
  const published: AuditCheckpoint[] = [];
  const recorder = new AuditRecorder({
    store,
    crypto,
    clock,
    signer: { kid, secretKey: keys.secretKey },
    publisher: {
      publish: (c) => {
        if (publishFails.value) return Promise.reject(new Error('broker down'));
        published.push(c);
        return Promise.resolve();
      },
    },
  });
  return { store, keys, kid, clock, published, recorder };
}

describe('AuditRecorder', () => {
  it('checkpoints every 1,000 entries and the result verifies', async () => {
    const { store, keys, kid, published, recorder } = setup();
    for (let i = 0; i < 2500; i += 100) {
      await recorder.record(Array.from({ length: 100 }, (_, j) => ev(i + j)));
    }
    expect(published.map((c) => c.count)).toEqual([1000, 2000]);
    expect((await store.checkpoints()).map((c) => c.count)).toEqual([1000, 2000]);
    const r = await verifyAuditLog(crypto, store.entries(), published, keys.publicKey, kid);
    expect(r).toMatchObject({ ok: true, count: 2500, checkpointsVerified: 2 });
  });

  it('checkpoints on tick after 60 s when the log grew, not before and not when idle', async () => {
    const { clock, published, recorder } = setup();
    await recorder.record([ev(1), ev(2)]);
    clock.advance(59_999);
    expect(await recorder.tick()).toBeNull();
    clock.advance(1);
    expect((await recorder.tick())?.count).toBe(2);
    clock.advance(120_000);
    expect(await recorder.tick()).toBeNull();
    expect(published.map((c) => c.count)).toEqual([2]);
  });

  it('checkpoints exactly every 1,000 entries even inside large batches', async () => {
    const { published, recorder } = setup();
    await recorder.record(Array.from({ length: 2500 }, (_, j) => ev(j)));
    expect(published.map((c) => c.count)).toEqual([1000, 2000]);
  });

  it('publishes the newest stored checkpoint again after a restart (it may have died before publishing)', async () => {
    const fails = { value: true };
    const first = setup(fails);
    await first.recorder.record(Array.from({ length: 999 }, (_, j) => ev(j)));
    await expect(first.recorder.record([ev(999)])).rejects.toThrow('broker down'); // stored, not published
    expect((await first.store.checkpoints()).map((c) => c.count)).toEqual([1000]);
    const published: number[] = [];
    const restarted = new AuditRecorder({
      store: first.store,
      crypto,
      clock: first.clock,
      signer: { kid: first.kid, secretKey: first.keys.secretKey },
      publisher: { publish: (c) => (published.push(c.count), Promise.resolve()) },
    });
    await restarted.record([ev(1000)]);
    expect(published).toEqual([1000]);
  });

  it('does not append a redelivered event twice', async () => {
    const { store, recorder } = setup();
    expect(await recorder.record([ev(1), ev(2)])).toBe(2);
    expect(await recorder.record([ev(2), ev(3)])).toBe(1);
    expect((await store.head()).count).toBe(3);
  });

  it('a failed publish propagates and is retried on the next call', async () => {
    const fails = { value: true };
    const { clock, published, recorder } = setup(fails);
    await recorder.record([ev(1)]);
    clock.advance(60_000);
    await expect(recorder.tick()).rejects.toThrow('broker down');
    fails.value = false;
    await recorder.record([ev(2)]);
    expect(published.map((c) => c.count)).toEqual([1]);
  });
});
