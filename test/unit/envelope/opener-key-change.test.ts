/**
 * The opener remembers our slot for a repeated header (envelope-opener.ts); a key change must make it
 * look again: the same header that was not addressed to us is opened once our key is given, and is
 * not addressed again once it is taken away (docs/SPEC.md §5 step 3).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { SequenceCounter } from '../../../src/envelope/index.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

describe('opener key change with a repeated header', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob', 'carol']);
  });

  it('finds our slot again after setRecipientKeys', () => {
    const s = w.session('alice', ['bob']);
    const seqs = new SequenceCounter(s.streamId);
    const values = Array.from(
      { length: 4 },
      () =>
        s.seal({
          partition: 0,
          seq: seqs.next(0),
          key: null,
          schemaFp: SCHEMA_FP,
          contentType: 'application/octet-stream',
          payload: p.randomBytes(10),
        }).value,
    );
    const ctx = { topic: TOPIC, partition: 0, key: null };
    const o = w.opener('carol', { recipientKeys: [w.recipientKey('carol')] });
    const kinds: string[] = [];
    kinds.push(o.open(values[0]!, ctx).kind, o.open(values[1]!, ctx).kind);
    o.setRecipientKeys([w.recipientKey('carol'), w.recipientKey('bob')]);
    kinds.push(o.open(values[2]!, ctx).kind);
    o.setRecipientKeys([w.recipientKey('carol')]);
    kinds.push(o.open(values[3]!, ctx).kind);
    o.close();
    expect(kinds).toEqual(['not-addressed', 'not-addressed', 'delivered', 'not-addressed']);
  });
});
