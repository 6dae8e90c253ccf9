/**
 * Issue #14.4: the horizon (docs/SPEC.md §5 step 5, HEADER_EXPIRED) is checked on every use of a
 * header, also when the session comes from the header cache. Otherwise an old record re-injected
 * after its replay window was freed (idle windows are dropped after the horizon) is delivered again.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { ReplayWindow } from '../../../src/envelope/replay-window.js';
import { codeOf } from './support/outcome.js';
import { loadProvider } from './support/providers.js';
import { makeWorld, SCHEMA_FP, TOPIC, type World } from './support/world.js';

describe('horizon on a header-cache hit', () => {
  let p: CryptoProvider;
  let w: World;
  beforeAll(async () => {
    p = await loadProvider('sodium-native');
    w = makeWorld(p, ['alice', 'bob']);
  });

  it('a cached session older than the horizon is HEADER_EXPIRED, not a replay delivered again', () => {
    const session = w.session('alice', ['bob'], { maxMessages: 10 });
    const seal = (seq: number) =>
      session.seal({
        partition: 0,
        seq,
        key: null,
        schemaFp: SCHEMA_FP,
        contentType: '',
        payload: new Uint8Array([seq]),
      }).value;
    const [r0, r1] = [seal(0), seal(1)];
    session.close();
    const opener = w.opener('bob');
    const ctx = { topic: TOPIC, partition: 0, key: null };

    // Delivered once, marked in its window: the session is now in the header cache.
    const window = new ReplayWindow(w.clock.nowMs());
    const first = opener.open(r0, ctx, { window: () => window });
    expect(first.kind).toBe('delivered');
    window.mark(0, w.clock.nowMs());
    expect(opener.cache.size.sessions).toBe(1);

    // Past the horizon the consumer frees the idle window; the old records come back.
    w.clock.advance(w.policy.horizonMs + 1);
    expect(codeOf(() => opener.open(r0, ctx, { window: () => undefined }))).toBe('HEADER_EXPIRED');
    expect(codeOf(() => opener.open(r1, ctx, { window: () => undefined }))).toBe('HEADER_EXPIRED');
    // The expired session left the cache (its keys are zeroed) and its header stays refused.
    expect(opener.cache.size.sessions).toBe(0);
    expect(codeOf(() => opener.open(r1, ctx))).toBe('HEADER_EXPIRED');
    opener.close();
  });
});
