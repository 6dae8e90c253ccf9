/**
 * The opener decrypts a message straight into the memory it delivers it in (opened-session.ts,
 * body.ts carveOpenedBody): a message that is refused after decryption (here BAD_BODY, an authentic
 * ciphertext of a malformed body from a malicious sender) must leave no plaintext there; and a
 * handler transferring a payload's memory must not detach the other messages carved from it.
 */
import { MessageChannel } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  type OpenedMessage,
  type OpenResult,
} from '../../../src/envelope/index.js';
import { craftMessage, kdf, KDF_ID_MESSAGE_KEY, openBox, sessionHashOf } from './support/forge.js';
import { outcomeOf } from './support/outcome.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, SCHEMA_ID, TOPIC, type World } from './support/world.js';

/** A record value of `session` on partition 0 at `seq`, content type 'c'. */
function sealIn(session: ReturnType<World['session']>, seq: number, payload: Uint8Array) {
  return session.seal({
    partition: 0,
    seq,
    key: null,
    schemaFp: SCHEMA_FP,
    contentType: 'c',
    payload,
  }).value;
}

describe('the memory opened messages are delivered in', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  it('holds no plaintext of a message refused after decryption: the bytes between the messages delivered before and after it are all zero', () => {
    const s = w.session('alice', ['bob']);
    const sealOne = (seq: number) => sealIn(s, seq, new Uint8Array([1, 2, 3]));
    const first = sealOne(1);
    const env = decodeEnvelope(first, w.limits);
    const bob = w.id('bob');
    const box = openBox(p, env.header, 0, bob.box.publicKey, bob.box.secretKey);
    const forged = craftMessage(
      p,
      {
        sessionHash: sessionHashOf(p, env.header, box),
        kMsg: kdf(p, box.seed, KDF_ID_MESSAGE_KEY),
        kids: env.header.kids,
      },
      new Map([[0, box.macKey]]),
      { partition: 0, seq: 2, key: null },
      // Not a body (version byte 0xab): BAD_BODY once decrypted; 0x80 then zeros is the padding.
      Uint8Array.of(...new Uint8Array(95).fill(0xab), 0x80),
      env.tags,
    );
    const bad = encodeEnvelope(SCHEMA_ID, { header: env.header, seq: 2, ...forged });
    const ctx = { topic: TOPIC, partition: 0, key: null };
    const o = w.opener('bob');
    const deliver = (v: Uint8Array): OpenedMessage => {
      const r = o.open(v, ctx);
      if (r.kind !== 'delivered') throw new Error(r.kind);
      return r.message;
    };
    // Retried if a new slab starts between the messages (the check needs them in one slab).
    for (let attempt = 0; ; attempt++) {
      const before = deliver(sealOne(10 + 2 * attempt));
      expect(outcomeOf((): OpenResult => o.open(bad, ctx))).toBe('MESSAGE:BAD_BODY');
      const after = deliver(sealOne(11 + 2 * attempt));
      if (before.payload.buffer !== after.payload.buffer) {
        expect(attempt).toBe(0);
        continue;
      }
      const gapStart = before.payload.byteOffset + before.payload.length;
      const gapEnd = after.messageId.byteOffset - 1; // the body's version byte precedes messageId
      const gap = new Uint8Array(after.payload.buffer, gapStart, gapEnd - gapStart);
      // The refused message's 96 bytes, plus the delivered one's padding (0x80 then zeros).
      expect(gap.length).toBeGreaterThanOrEqual(96);
      expect(gap.filter((b) => b === 0xab).length).toBe(0);
      break;
    }
  });

  it("cannot be detached by a handler transferring a payload's memory (it is copied, or the transfer refused)", () => {
    const s = w.session('alice', ['bob']);
    const o = w.opener('bob');
    const ctx = { topic: TOPIC, partition: 0, key: null };
    const opened = [20, 21].map((seq) => {
      const r = o.open(sealIn(s, seq, new Uint8Array([seq, 2, 3])), ctx);
      if (r.kind !== 'delivered') throw new Error(r.kind);
      return r.message;
    });
    const { port1, port2 } = new MessageChannel();
    try {
      const memory = opened[0]!.payload.buffer as ArrayBuffer;
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
    // Neither the transferred message nor its neighbour in the slab lost its bytes.
    expect([...opened[0]!.payload]).toEqual([20, 2, 3]);
    expect([...opened[1]!.payload]).toEqual([21, 2, 3]);
  });
});
