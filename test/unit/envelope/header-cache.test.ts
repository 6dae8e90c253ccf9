import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  decodeEnvelope,
  findSlot,
  HeaderCache,
  isCacheableRejection,
  openSessionHeader,
} from '../../../src/envelope/index.js';
import { codeOf } from './support/outcome.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, type World } from './support/world.js';

describe('HeaderCache', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  const openedSession = (maxMessages: number) => {
    const s = w.session('alice', ['bob'], { maxMessages });
    const value = s.seal({
      partition: 0,
      seq: 0,
      key: null,
      schemaFp: SCHEMA_FP,
      contentType: '',
      payload: new Uint8Array(1),
    }).value;
    s.close();
    const env = decodeEnvelope(value, w.limits);
    const session = openSessionHeader(
      { provider: p, clock: w.clock, policy: w.policy, resolver: w.resolver },
      env.header,
      findSlot(env.header, [w.recipientKey('bob')])!,
    );
    return { env, session };
  };

  it('hh = H(L(header-bytes) ‖ header): equal for equal bytes, different otherwise', () => {
    const cache = new HeaderCache({ provider: p, maxSessions: 2, maxRejected: 2 });
    const a = openedSession(10);
    const b = openedSession(10);
    expect(cache.keyOf(a.env.headerBytes)).toBe(cache.keyOf(a.env.headerBytes.slice()));
    expect(cache.keyOf(a.env.headerBytes)).not.toBe(cache.keyOf(b.env.headerBytes));
    a.session.close();
    b.session.close();
  });

  it('bounded LRU: the least recently used session is evicted and closed; one-message sessions stay out', () => {
    const cache = new HeaderCache({ provider: p, maxSessions: 2, maxRejected: 2 });
    const [s1, s2, s3] = [openedSession(10), openedSession(10), openedSession(10)];
    expect(cache.putSession('a', s1.session, 1)).toBe(true);
    expect(cache.putSession('b', s2.session, 1)).toBe(true);
    expect(cache.getSession('a')?.session).toBe(s1.session); // a is now most recent
    expect(cache.putSession('c', s3.session, 1)).toBe(true);
    expect(cache.getSession('b')).toBeUndefined();
    expect(s2.session.closed).toBe(true);
    expect(s1.session.closed).toBe(false);
    const single = openedSession(1);
    expect(cache.putSession('d', single.session, 1)).toBe(false);
    expect(cache.size).toEqual({ sessions: 2, rejected: 0 });
    cache.clear();
    expect(s1.session.closed && s3.session.closed).toBe(true);
    expect(
      codeOf(() =>
        s1.session.openMessage(s1.env, { topic: s1.session.topic, partition: 0, key: null }),
      ),
    ).toBe('SESSION_CLOSED');
    single.session.close();
  });

  it('negative entries: only deterministic header rejections, bounded', () => {
    const cache = new HeaderCache({ provider: p, maxSessions: 2, maxRejected: 2 });
    expect(isCacheableRejection('BOX_OPEN_FAILED')).toBe(true);
    expect(isCacheableRejection('UNKNOWN_SENDER')).toBe(false);
    expect(isCacheableRejection('HEADER_FROM_FUTURE')).toBe(false);
    cache.putRejected('x', 'UNKNOWN_SENDER');
    expect(cache.getRejected('x')).toBeUndefined();
    cache.putRejected('x', 'BOX_OPEN_FAILED');
    cache.putRejected('y', 'COMMITMENT_MISMATCH');
    cache.putRejected('z', 'BAD_HEADER_SIGNATURE');
    expect(cache.getRejected('x')).toBeUndefined();
    expect(cache.getRejected('z')).toBe('BAD_HEADER_SIGNATURE');
    expect(cache.size.rejected).toBe(2);
  });
});
