/**
 * Directory rollback after a restart (docs/OPERATIONS.md "Directory state"): the highest directory
 * head a service has accepted is kept in a local state file (atomic, 0600) and bounds what it accepts
 * after a restart. An older signed directory — e.g. the one from before a revocation — is refused with
 * DIRECTORY_ROLLBACK and an alert; a fresh service (no state) accepts any unexpired head, which is why
 * the head lifetime is the rollback window left to it.
 */
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DirectoryDocument } from '../../../src/keys/directory/directory-document.js';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import { parseSignedHead } from '../../../src/keys/directory/directory-record.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import { FileDirectoryStateStore } from '../../../src/keys/directory/directory-state.js';
import type { DirectoryStateStore } from '../../../src/keys/directory/directory-state.js';
import type { DirectorySnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { DirectoryAlert } from '../../../src/keys/directory/key-directory.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';
import { makeWorld } from '../../support/keys/fixtures.js';

const HOUR_MS = 3_600_000;
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

const sign = (changes: DirectoryRecordDraft[], previous?: DirectorySnapshot): DirectoryDocument =>
  signDirectory({
    crypto: w.crypto,
    authority: w.authority,
    clock: w.clock,
    headTtlMs: 4 * HOUR_MS,
    changes,
    previous,
  });

/** What the service reads: switchable between versions (the topic or file as an attacker left it). */
function servedSource(): { serve(doc: DirectoryDocument): void; readAll: () => Promise<never> } {
  let doc: DirectoryDocument | undefined;
  return {
    serve(d: DirectoryDocument) {
      doc = d;
    },
    readAll: () => Promise.resolve(documentEntries(doc!)) as Promise<never>,
  };
}

async function open(
  source: ReturnType<typeof servedSource>,
  statePath: string | undefined,
  alerts: DirectoryAlert[] = [],
): Promise<KeyDirectory> {
  return KeyDirectory.open({
    crypto: w.crypto,
    authorityPublicKey: w.authority.signingKey().publicKey,
    source,
    clock: w.clock,
    ...(statePath === undefined ? {} : { state: new FileDirectoryStateStore(statePath) }),
    onAlert: (a) => alerts.push(a),
  });
}

/** v1: everyone active; v2: orders-api revoked (signed over v1). */
async function twoVersions(): Promise<{ v1: DirectoryDocument; v2: DirectoryDocument }> {
  const v1 = sign(drafts);
  const s = servedSource();
  s.serve(v1);
  const authorityView = await open(s, undefined);
  w.clock.advance(60_000);
  const v2 = sign(
    [{ ...drafts[0]!, status: 'revoked', retiredAtMs: w.clock.nowMs() }],
    authorityView.snapshot(),
  );
  return { v1, v2 };
}

describe('directory state across restarts', () => {
  it('a restarted service refuses the directory from before a revocation (DIRECTORY_ROLLBACK + alert)', async () => {
    const { v1, v2 } = await twoVersions();
    const statePath = join(w.dir, 'directory-state.json');
    const source = servedSource();
    source.serve(v2);
    const first = await open(source, statePath);
    expect(first.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');
    await first.close();

    // The service restarts; its source now serves the older, still unexpired directory.
    w.clock.advance(60_000);
    source.serve(v1);
    const alerts: DirectoryAlert[] = [];
    await expect(open(source, statePath, alerts)).rejects.toMatchObject({
      code: 'DIRECTORY_ROLLBACK',
    });
    expect(alerts).toEqual([
      expect.objectContaining({ code: 'DIRECTORY_ROLLBACK', heldEpoch: 2, offeredEpoch: 1 }),
    ]);

    // Served the current version again, it starts, with the revocation.
    source.serve(v2);
    const again = await open(source, statePath);
    expect(again.epoch).toBe(2);
    expect(again.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');
    await again.close();
  });

  it('the state file is written atomically with mode 0600 and moves forward only', async () => {
    const { v1, v2 } = await twoVersions();
    const statePath = join(w.dir, 'state', 'directory-state.json');
    const source = servedSource();
    source.serve(v1);
    const d = await open(source, statePath);
    expect((await stat(statePath)).mode & 0o777).toBe(0o600);
    const saved1 = JSON.parse(await readFile(statePath, 'utf8')) as { head: { epoch: number } };
    expect(saved1.head.epoch).toBe(1);
    source.serve(v2);
    expect(await d.refresh()).toBe(2);
    const saved2 = JSON.parse(await readFile(statePath, 'utf8')) as { head: { epoch: number } };
    expect(saved2.head.epoch).toBe(2);
    // A second service sharing the path while it still holds v1 does not move the state back.
    const store = new FileDirectoryStateStore(statePath);
    await store.save(parseSignedHead(saved1.head), w.authority.signingKey().kid);
    const after = JSON.parse(await readFile(statePath, 'utf8')) as { head: { epoch: number } };
    expect(after.head.epoch).toBe(2);
    await d.close();
  });

  it('a listener told of a new epoch finds that epoch already saved', async () => {
    const { v1, v2 } = await twoVersions();
    const statePath = join(w.dir, 'directory-state.json');
    const source = servedSource();
    source.serve(v1);
    // A slow store: the save completes on a later turn, as a file write does.
    const file = new FileDirectoryStateStore(statePath);
    const saved: number[] = [];
    const slowStore: DirectoryStateStore = {
      load: () => file.load(),
      save: async (head, kid) => {
        await new Promise((r) => setTimeout(r, 20));
        await file.save(head, kid);
        saved.push(head.head.epoch);
      },
    };
    const d = await KeyDirectory.open({
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source,
      clock: w.clock,
      state: slowStore,
    });
    const heard: { epoch: number; savedThen: number[] }[] = [];
    d.onEpochChange((epoch) => heard.push({ epoch, savedThen: [...saved] }));
    source.serve(v2);
    expect(await d.refresh()).toBe(2);
    expect(heard).toEqual([{ epoch: 2, savedThen: [1, 2] }]);
    await d.close();
  });

  it('a running service refuses an older directory with an alert; a re-issued head moves the state on', async () => {
    const { v1, v2 } = await twoVersions();
    const statePath = join(w.dir, 'directory-state.json');
    const source = servedSource();
    source.serve(v2);
    const alerts: DirectoryAlert[] = [];
    const d = await open(source, statePath, alerts);
    source.serve(v1);
    await expect(d.refresh()).rejects.toMatchObject({ code: 'DIRECTORY_ROLLBACK' });
    expect(alerts.map((a) => a.code)).toEqual(['DIRECTORY_ROLLBACK']);
    expect(d.epoch).toBe(2);

    // Re-issued head (same records, same epoch, later expiry): accepted and persisted.
    w.clock.advance(HOUR_MS);
    const reissued = sign([], d.snapshot());
    source.serve(reissued);
    expect(await d.refresh()).toBe(2);
    const saved = JSON.parse(await readFile(statePath, 'utf8')) as {
      head: { issuedAtMs: number };
    };
    expect(saved.head.issuedAtMs).toBe(w.clock.nowMs());
    await d.close();
    // After a restart the older issue of the same epoch is refused too.
    source.serve(v2);
    await expect(open(source, statePath)).rejects.toMatchObject({ code: 'DIRECTORY_ROLLBACK' });
  });

  it('a fresh service (no state) accepts any unexpired head: the head lifetime is its rollback window', async () => {
    const { v1 } = await twoVersions();
    const source = servedSource();
    source.serve(v1);
    const fresh = await open(source, join(w.dir, 'fresh-state.json'));
    expect(fresh.senderKey(drafts[0]!.signKid)?.status).toBe('active');
    await fresh.close();
    w.clock.advance(4 * HOUR_MS);
    await expect(open(source, join(w.dir, 'fresh-state-2.json'))).rejects.toMatchObject({
      code: 'DIRECTORY_HEAD_EXPIRED',
    });
  });

  it('a state file that is corrupt, forged or readable by others stops the start with DIRECTORY_STATE_INVALID', async () => {
    const { v2 } = await twoVersions();
    const statePath = join(w.dir, 'directory-state.json');
    const source = servedSource();
    source.serve(v2);
    await (await open(source, statePath)).close();
    const good = await readFile(statePath, 'utf8');

    await writeFile(statePath, '{"not json', { mode: 0o600 });
    await expect(open(source, statePath)).rejects.toMatchObject({
      code: 'DIRECTORY_STATE_INVALID',
    });

    const forged = JSON.parse(good) as { head: { epoch: number } };
    forged.head.epoch = 99;
    await writeFile(statePath, JSON.stringify(forged), { mode: 0o600 });
    await expect(open(source, statePath)).rejects.toMatchObject({
      code: 'DIRECTORY_STATE_INVALID',
    });

    await writeFile(statePath, good);
    await chmod(statePath, 0o644);
    await expect(open(source, statePath)).rejects.toMatchObject({
      code: 'DIRECTORY_STATE_INVALID',
    });
  });

  it('a state that cannot be saved fails the start; later the new version is adopted and the failure alerted and reported', async () => {
    const { v1, v2 } = await twoVersions();
    const source = servedSource();
    source.serve(v1);
    let failing = true;
    const saved: number[] = [];
    const store: DirectoryStateStore = {
      load: () => Promise.resolve(undefined),
      save: (head) => {
        if (failing)
          return Promise.reject(
            new DirectoryError('DIRECTORY_STATE_UNWRITABLE', 'cannot write the state (test)'),
          );
        saved.push(head.head.epoch);
        return Promise.resolve();
      },
    };
    const options = {
      crypto: w.crypto,
      authorityPublicKey: w.authority.signingKey().publicKey,
      source,
      clock: w.clock,
      state: store,
    };
    await expect(KeyDirectory.open(options)).rejects.toMatchObject({
      code: 'DIRECTORY_STATE_UNWRITABLE',
    });

    failing = false;
    const alerts: DirectoryAlert[] = [];
    const d = await KeyDirectory.open({ ...options, onAlert: (a) => alerts.push(a) });
    expect(saved).toEqual([1]);
    const errors: string[] = [];
    d.startAutoRefresh(3_600_000, (err) => errors.push((err as DirectoryError).code));
    failing = true;
    source.serve(v2);
    expect(await d.refresh()).toBe(2);
    expect(d.senderKey(drafts[0]!.signKid)?.status).toBe('revoked');
    expect(alerts.map((a) => a.code)).toEqual(['DIRECTORY_STATE_UNWRITABLE']);
    expect(errors).toEqual(['DIRECTORY_STATE_UNWRITABLE']);
    await d.close();
  });

  it('concurrent saves to one path from two stores leave a valid state holding the newest head', async () => {
    const { v1, v2 } = await twoVersions();
    const statePath = join(w.dir, 'shared-state.json');
    const a = new FileDirectoryStateStore(statePath);
    const b = new FileDirectoryStateStore(statePath);
    const kid = w.authority.signingKey().kid;
    const h1 = parseSignedHead(v1.head);
    const h2 = parseSignedHead(v2.head);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).save(i % 3 === 0 ? h2 : h1, kid)),
    );
    expect((await new FileDirectoryStateStore(statePath).load())?.head.epoch).toBe(2);
  });
});
