/**
 * MetadataEventEmitter delivery accounting (issue #14 item 7), on an in-memory stand-in for the
 * producer's sendRaw (the emitter's only collaborator): a full queue while a flush is in flight drops
 * exactly the new events and counts them by type; close() reports a failed final flush; the outbox
 * keeps unsent events for the next emitter. Ledger: every emitted event is sent or counted dropped.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import type { MetadataEvent } from '../../../src/events/metadata-event.js';
import {
  decodeMetadataEventBatch,
  MetadataEventEmitter,
} from '../../../src/pipeline/metadata-event-emitter.js';
import type { SealedProducer } from '../../../src/pipeline/sealed-producer.js';
import { ManualClock } from '../../../src/runtime/clock.js';

let crypto: CryptoProvider;
let dir: string;
beforeAll(async () => {
  crypto = await createCryptoProvider();
  dir = await mkdtemp(join(tmpdir(), 'sealpost-emitter-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** sendRaw that waits for `release()` (or fails while `failing`), recording what it was given. */
function gatedProducer() {
  const sent: MetadataEvent[][] = [];
  const waiting: (() => void)[] = [];
  const state = { gated: false, failing: false };
  const producer = {
    async sendRaw(target: { messages: readonly { payload: Uint8Array }[] }) {
      if (state.gated) await new Promise<void>((resolve) => waiting.push(resolve));
      if (state.failing)
        throw Object.assign(new Error('broker down'), {
          code: 'BROKER_UNAVAILABLE',
          retriable: true,
        });
      for (const m of target.messages)
        sent.push(decodeMetadataEventBatch(m.payload) as MetadataEvent[]);
      return [];
    },
  };
  return {
    producer: producer as unknown as SealedProducer,
    sent,
    state,
    inFlight: () => waiting.length,
    release() {
      state.gated = false;
      for (const w of waiting.splice(0)) w();
    },
  };
}

const until = async (check: () => boolean): Promise<void> => {
  while (!check()) await new Promise((r) => setImmediate(r));
};

describe('MetadataEventEmitter delivery', () => {
  it('a full queue during an in-flight flush drops exactly the new events, counted by type', async () => {
    const p = gatedProducer();
    p.state.gated = true;
    const e = new MetadataEventEmitter({
      producer: p.producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(),
      actor: 'orders',
      maxBatch: 3,
      maxQueued: 5,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 5; i++) e.emit({ type: 'opened', partition: i });
    await until(() => p.inFlight() === 1); // the batch [0, 1, 2] is in flight
    e.emit({ type: 'sealed', partition: 5 });
    e.emit({ type: 'sealed', partition: 6 });
    p.release();
    await e.close();
    const sent = p.sent.flat().map((x) => x.partition);
    expect(sent).toEqual([0, 1, 2, 3, 4]);
    expect(e.dropped).toBe(2);
    expect(Object.fromEntries(e.droppedByType())).toEqual({ sealed: 2 });
  });

  it('close() reports a failed final flush with a typed error', async () => {
    const p = gatedProducer();
    p.state.failing = true;
    const e = new MetadataEventEmitter({
      producer: p.producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(),
      actor: 'orders',
      flushIntervalMs: 60_000,
    });
    e.emit({ type: 'opened', partition: 0 });
    const err = await e.close().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(err).toMatchObject({ code: 'EVENTS_NOT_FLUSHED', retriable: true });
    expect(p.sent).toEqual([]);
  });

  it('events not acknowledged stay in the outbox and the next emitter sends them first', async () => {
    const outboxPath = join(dir, 'outbox-1.jsonl');
    const failing = gatedProducer();
    failing.state.failing = true;
    const first = new MetadataEventEmitter({
      producer: failing.producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(),
      actor: 'orders',
      flushIntervalMs: 60_000,
      outboxPath,
    });
    for (let i = 0; i < 4; i++) first.emit({ type: 'opened', partition: i });
    await expect(first.close()).rejects.toMatchObject({ code: 'EVENTS_NOT_FLUSHED' });

    const working = gatedProducer();
    const second = new MetadataEventEmitter({
      producer: working.producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(),
      actor: 'orders',
      flushIntervalMs: 60_000,
      outboxPath,
    });
    second.emit({ type: 'opened', partition: 4 });
    await second.close();
    expect(working.sent.flat().map((x) => x.partition)).toEqual([0, 1, 2, 3, 4]);
    // Everything acknowledged: the outbox is empty again.
    expect((await readFile(outboxPath)).length).toBe(0);
  });
});
