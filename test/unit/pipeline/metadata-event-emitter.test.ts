import { describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import {
  canonicalEventBytes,
  validateMetadataEvent,
  type MetadataEvent,
} from '../../../src/events/metadata-event.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
  MetadataEventEmitter,
} from '../../../src/pipeline/metadata-event-emitter.js';
import type { OutgoingRawMessage, SealedProducer } from '../../../src/pipeline/sealed-producer.js';
import { ManualClock } from '../../../src/runtime/clock.js';

/** An in-memory stand-in for the producer's sendRaw (the emitter's only dependency). */
function fakeProducer(failFirst = 0) {
  const sent: {
    topic: string;
    contentType: string;
    recipients: readonly string[] | undefined;
    payload: Uint8Array;
  }[] = [];
  let failures = failFirst;
  const producer = {
    sendRaw(target: {
      topic: string;
      contentType: string;
      recipients?: readonly string[];
      messages: readonly OutgoingRawMessage[];
    }) {
      if (failures > 0) {
        failures--;
        return Promise.reject(Object.assign(new Error('broker down'), { retriable: true }));
      }
      for (const m of target.messages)
        sent.push({
          topic: target.topic,
          contentType: target.contentType,
          recipients: target.recipients,
          payload: m.payload,
        });
      return Promise.resolve([]);
    },
  };
  return { producer: producer as unknown as SealedProducer, sent };
}

describe('MetadataEventEmitter', () => {
  it('batches canonical events into sealed raw records for audit', async () => {
    const crypto = await createCryptoProvider();
    const { producer, sent } = fakeProducer();
    const e = new MetadataEventEmitter({
      producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(5000),
      actor: 'orders',
      maxBatch: 3,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 7; i++)
      e.emit({ type: 'sealed', topic: 't', partition: i, messageId: 'ab'.repeat(16) });
    await e.close();
    expect(sent.map((s) => s.topic)).toEqual(['meta', 'meta', 'meta']);
    expect(
      sent.every(
        (s) => s.contentType === METADATA_EVENTS_CONTENT_TYPE && s.recipients?.join() === 'audit',
      ),
    ).toBe(true);
    const events = sent.flatMap((s) => decodeMetadataEventBatch(s.payload)) as MetadataEvent[];
    expect(events.map((x) => x.partition)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const ev of events) {
      expect(validateMetadataEvent(ev)).toEqual([]);
      expect(ev).toMatchObject({ actor: 'orders', timeMs: 5000, type: 'sealed' });
    }
    // The payload is exactly the canonical bytes of each event, comma-separated in a JSON array.
    const first = sent[0]!.payload;
    const expected = `[${events
      .slice(0, 3)
      .map((x) => new TextDecoder().decode(canonicalEventBytes(x)))
      .join(',')}]`;
    expect(new TextDecoder().decode(first)).toBe(expected);
    expect(e.sent).toBe(7);
  });

  it('keeps events queued across a failed send and bounds the queue', async () => {
    const crypto = await createCryptoProvider();
    const { producer, sent } = fakeProducer(1);
    const e = new MetadataEventEmitter({
      producer,
      topic: 'meta',
      crypto,
      clock: new ManualClock(),
      actor: 'billing',
      maxBatch: 100,
      maxQueued: 5,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 8; i++) e.emit({ type: 'opened', partition: i });
    expect(e.dropped).toBe(3);
    await expect(e.flush()).rejects.toThrow('broker down');
    await e.flush();
    expect(
      (decodeMetadataEventBatch(sent[0]!.payload) as MetadataEvent[]).map((x) => x.partition),
    ).toEqual([0, 1, 2, 3, 4]); // beyond maxQueued the new events are dropped, the oldest kept
    await e.close();
  });
});
