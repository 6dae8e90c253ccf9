import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHex } from '../../../src/keys/bytes.js';
import {
  destroyRetiredGenerations,
  loadIdentity,
  rotateIdentityFile,
  writeIdentityFile,
} from '../../../src/keys/identity-file.js';
import { IdentityReloader, identityFileSource } from '../../../src/keys/identity-source.js';
import type { IdentitySource } from '../../../src/keys/identity-source.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';
import { KeyError } from '../../../src/keys/key-error.js';
import { CountingKms } from '../../../src/keys/kms/counting-kms.js';
import { DAY_MS, makeWorld } from '../../support/keys/fixtures.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';

let w: KeysWorld;
beforeEach(async () => {
  w = await makeWorld();
});
afterEach(async () => {
  await w.cleanup();
});

const boxKids = (id: LoadedIdentity): string[] => id.openingKeys().map((k) => toHex(k.kid));

describe('LoadedIdentity.adopt', () => {
  it('takes a rotated generation in place, keeps the held key objects, closes the source', async () => {
    const { file } = await w.service('billing', [], ['orders']);
    const running = await loadIdentity(file, { crypto: w.crypto, kms: w.kms });
    const heldBox = running.active().box;
    const rotated = await rotateIdentityFile(file, {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const next = await loadIdentity(rotated, { crypto: w.crypto, kms: w.kms });
    const newKid = toHex(next.active().box.kid);

    const result = running.adopt(next);

    expect(result.addedBoxKids).toEqual([newKid]);
    expect(boxKids(running)).toEqual([newKid, toHex(heldBox.kid)]);
    expect(toHex(running.active().box.kid)).toBe(newKid);
    // The old generation is retiring now, and still the same object (openers that hold it stay valid).
    const old = running.generations()[1]!;
    expect(old.state).toBe('retiring');
    expect(old.box).toBe(heldBox);
    expect(heldBox.secretKey.some((b) => b !== 0)).toBe(true);
    expect(next.closed).toBe(true);
    expect(running.revision).toBe(1);
    running.close();
  });

  it('zeros generations the source no longer has', async () => {
    const { file } = await w.service('billing', [], ['orders']);
    const rotated = await rotateIdentityFile(file, {
      crypto: w.crypto,
      kms: w.kms,
      clock: w.clock,
    });
    const running = await loadIdentity(rotated, { crypto: w.crypto, kms: w.kms });
    const retiringBox = running.generations()[1]!.box;
    w.clock.advance(40 * DAY_MS);
    const destroyed = destroyRetiredGenerations(rotated, {
      retentionMs: DAY_MS,
      clock: w.clock,
    }).file;
    const next = await loadIdentity(destroyed, { crypto: w.crypto, kms: w.kms });

    expect(running.adopt(next).addedBoxKids).toEqual([]);
    expect(running.generations()).toHaveLength(1);
    expect(retiringBox.secretKey.every((b) => b === 0)).toBe(true);
    running.close();
  });

  it('refuses another identity', async () => {
    const a = await loadIdentity((await w.service('billing', [], [])).file, {
      crypto: w.crypto,
      kms: w.kms,
    });
    const b = await loadIdentity((await w.service('shipping', [], [])).file, {
      crypto: w.crypto,
      kms: w.kms,
    });
    let caught: unknown;
    try {
      a.adopt(b);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KeyError);
    expect((caught as KeyError).code).toBe('KEY_MISMATCH');
    expect(b.closed).toBe(false);
    a.close();
    b.close();
  });
});

describe('IdentityReloader', () => {
  it('reads the identity file again, one KMS load at a time and not more often than the interval', async () => {
    const { file } = await w.service('billing', [], ['orders']);
    const path = join(w.dir, 'billing.json');
    await writeIdentityFile(path, file, { overwrite: false });
    const running = await loadIdentity(file, { crypto: w.crypto, kms: w.kms });
    const kms = new CountingKms(w.kms);
    const reloader = new IdentityReloader({
      identity: running,
      source: identityFileSource(path, { crypto: w.crypto, kms }),
      clock: w.clock,
      minIntervalMs: 1000,
    });
    await writeIdentityFile(
      path,
      await rotateIdentityFile(file, { crypto: w.crypto, kms: w.kms, clock: w.clock }),
      { overwrite: true },
    );

    const [r1, r2] = await Promise.all([reloader.reload(), reloader.reload()]);
    expect(r1.addedBoxKids).toHaveLength(1);
    expect(r2).toBe(r1);
    expect(kms.counts().unwrap).toBe(4); // two live generations, two keys each, loaded once
    expect(reloader.waitMs()).toBe(1000);
    await reloader.reload();
    expect(kms.counts().unwrap).toBe(4);
    w.clock.advance(1000);
    expect((await reloader.reload()).addedBoxKids).toEqual([]);
    expect(kms.counts().unwrap).toBe(8);
    running.close();
  });

  it('a failed load rejects its callers and does not start the interval', async () => {
    const { file } = await w.service('billing', [], []);
    const running = await loadIdentity(file, { crypto: w.crypto, kms: w.kms });
    let calls = 0;
    const source: IdentitySource = {
      load: () => {
        calls += 1;
        return calls === 1
          ? Promise.reject(new KeyError('KEY_FILE_NOT_FOUND', 'gone'))
          : loadIdentity(file, { crypto: w.crypto, kms: w.kms });
      },
    };
    const reloader = new IdentityReloader({ identity: running, source, clock: w.clock });
    await expect(reloader.reload()).rejects.toBeInstanceOf(KeyError);
    expect(reloader.waitMs()).toBe(0);
    expect((await reloader.reload()).addedBoxKids).toEqual([]);
    expect(calls).toBe(2);
    running.close();
  });
});
