/**
 * KeyDirectory following a source that pushes (the directory topic's follower; here an in-memory one):
 * pushed snapshots are validated like a refresh and adopted at once (epoch listeners hear them), an
 * older pushed directory is refused with an alert, the follower is stopped with auto-refresh.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  DirectoryDocument,
  DirectoryFollowHandler,
  FollowableDirectorySource,
} from '../../../src/keys/directory/directory-document.js';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { DirectoryAlert } from '../../../src/keys/directory/key-directory.js';
import type { KeysWorld } from './support/fixtures.js';
import { makeWorld } from './support/fixtures.js';

let w: KeysWorld;
let drafts: DirectoryRecordDraft[];

beforeEach(async () => {
  w = await makeWorld();
  drafts = [
    (await w.service('orders-api', ['orders'], [])).draft,
    (await w.service('billing', [], ['orders'])).draft,
  ];
});
afterEach(async () => {
  await w.cleanup();
});

/** A source whose follower is driven by the test. */
function pushingSource(initial: DirectoryDocument): FollowableDirectorySource & {
  push(doc: DirectoryDocument): void;
  handlers: DirectoryFollowHandler[];
  stopped: number;
} {
  const handlers: DirectoryFollowHandler[] = [];
  const source = {
    handlers,
    stopped: 0,
    readAll: () => Promise.resolve(documentEntries(initial)),
    follow(handler: DirectoryFollowHandler) {
      handlers.push(handler);
      return {
        caughtUp: Promise.resolve(),
        stop: () => {
          source.stopped += 1;
          return Promise.resolve();
        },
      };
    },
    push(doc: DirectoryDocument) {
      for (const h of handlers) h.onSnapshot(documentEntries(doc));
    },
  };
  return source;
}

describe('KeyDirectory following a pushing source', () => {
  it('adopts pushed versions at once, refuses an older one with an alert, and stops the follower', async () => {
    const sign = (changes: DirectoryRecordDraft[], d?: KeyDirectory) =>
      signDirectory({
        crypto: w.crypto,
        authority: w.authority,
        clock: w.clock,
        headTtlMs: 3_600_000,
        changes,
        previous: d?.snapshot(),
      });
    const v1 = sign(drafts);
    const source = pushingSource(v1);
    const alerts: DirectoryAlert[] = [];
    const d = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source,
      clock: w.clock,
      onAlert: (a) => alerts.push(a),
    });
    expect(await d.whenFollowing()).toBe(false);
    const errors: string[] = [];
    const epochs: number[] = [];
    d.onEpochChange((e) => epochs.push(e));
    // A poll far in the future: only the push can bring the revocation.
    d.startAutoRefresh(3_600_000, (err) => errors.push((err as { code: string }).code));
    expect(await d.whenFollowing()).toBe(true);
    expect(source.handlers).toHaveLength(1);

    w.clock.advance(1000);
    const v2 = sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], d);
    source.push(v2);
    await vi.waitFor(() => expect(epochs).toEqual([2]), { timeout: 2000, interval: 5 });
    expect(d.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');

    source.push(v1);
    await vi.waitFor(() => expect(errors).toEqual(['DIRECTORY_ROLLBACK']), {
      timeout: 2000,
      interval: 5,
    });
    expect(alerts).toEqual([
      expect.objectContaining({ code: 'DIRECTORY_ROLLBACK', heldEpoch: 2, offeredEpoch: 1 }),
    ]);
    expect(d.epoch).toBe(2);

    await d.close();
    expect(source.stopped).toBe(1);
    expect(await d.whenFollowing()).toBe(false);
  });

  it('a slow re-read overtaken by a pushed newer version is dropped, not alerted as a rollback', async () => {
    const sign = (changes: DirectoryRecordDraft[], d?: KeyDirectory) =>
      signDirectory({
        crypto: w.crypto,
        authority: w.authority,
        clock: w.clock,
        headTtlMs: 3_600_000,
        changes,
        previous: d?.snapshot(),
      });
    const v1 = sign(drafts);
    let release: () => void = () => undefined;
    let slow = false;
    const source = {
      readAll: () =>
        slow
          ? new Promise<ReturnType<typeof documentEntries>>((resolve) => {
              release = () => resolve(documentEntries(v1));
            })
          : Promise.resolve(documentEntries(v1)),
    };
    const alerts: DirectoryAlert[] = [];
    const d = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source,
      clock: w.clock,
      onAlert: (a) => alerts.push(a),
    });
    slow = true;
    const reread = d.refresh(); // reads v1 while v1 is what the topic holds
    w.clock.advance(1000);
    const v2 = sign([{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }], d);
    expect(await d.apply(documentEntries(v2))).toBe(2); // the follower pushes v2 meanwhile
    release();
    expect(await reread).toBe(2);
    expect(alerts).toEqual([]);
    expect(d.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');
    // Read when v2 was already held, v1 is a rollback.
    slow = false;
    await expect(d.refresh()).rejects.toMatchObject({ code: 'DIRECTORY_ROLLBACK' });
    expect(alerts.map((a) => a.code)).toEqual(['DIRECTORY_ROLLBACK']);
    await d.close();
  });
});
