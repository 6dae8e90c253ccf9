import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import { recordToBeSigned } from '../../../src/keys/directory/directory-record.js';
import {
  signDirectory,
  type DirectoryRecordDraft,
} from '../../../src/keys/directory/directory-signer.js';
import { validateSnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import { KeyDirectory } from '../../../src/keys/directory/key-directory.js';
import type { MetadataEvent } from '../../../src/events/metadata-event.js';
import { Detokenizer } from '../../../src/tokenize/detokenizer.js';
import { FieldTokenizer } from '../../../src/tokenize/field-tokenizer.js';
import {
  generateTokenKeyFile,
  loadTokenKeyring,
  readTokenKeyFile,
  rotateTokenClass,
  writeTokenKeyFile,
} from '../../../src/tokenize/token-key-file.js';
import { deriveTokenSchema } from '../../../src/tokenize/token-schema.js';
import { parseToken } from '../../../src/tokenize/token-string.js';
import { TokenizeError } from '../../../src/tokenize/tokenize-error.js';
import { makeWorld, type KeysWorld } from '../../support/keys/fixtures.js';

const HOUR_MS = 3_600_000;
const SOURCE = JSON.stringify({
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    {
      name: 'card',
      type: 'string',
      'sealpost.tokenize': 'deterministic',
      'sealpost.class': 'card',
    },
    {
      name: 'iban',
      type: ['null', 'bytes'],
      default: null,
      'sealpost.tokenize': 'deterministic',
      'sealpost.class': 'iban',
    },
    { name: 'email', type: 'string', 'sealpost.tokenize': 'mask', 'sealpost.class': 'email' },
  ],
});

let w: KeysWorld;
let billing: DirectoryRecordDraft;
let shipping: DirectoryRecordDraft;
let directory: KeyDirectory;
beforeAll(async () => {
  w = await makeWorld();
  billing = {
    ...(await w.service('billing', [], ['orders'])).draft,
    detokenizeClasses: ['iban', 'card', 'card'],
  };
  shipping = (await w.service('shipping', [], ['orders'])).draft;
  const doc = signDirectory({
    crypto: w.crypto,
    authority: w.authority,
    clock: w.clock,
    headTtlMs: HOUR_MS,
    changes: [billing, shipping],
  });
  directory = await KeyDirectory.open({
    crypto: w.crypto,
    authorityPublicKey: w.authority.signingKey().publicKey,
    source: { readAll: () => Promise.resolve(documentEntries(doc)) },
    clock: w.clock,
  });
});
afterAll(async () => {
  await w.cleanup();
});

function caught(fn: () => unknown): TokenizeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenizeError) return err;
    throw err;
  }
  throw new Error('expected a TokenizeError');
}

describe('directory clearances (detokenizeClasses)', () => {
  it('are signed, sorted and unique; a record without them signs exactly the old bytes', () => {
    const rec = directory.records().find((r) => r.identity === 'billing')!;
    expect(rec.detokenizeClasses).toEqual(['card', 'iban']);
    const plain = directory.records().find((r) => r.identity === 'shipping')!;
    expect(plain.detokenizeClasses).toBeUndefined();
    // Adding the classes changes the signed bytes only by a trailing extension.
    const { detokenizeClasses: _c, ...without } = rec;
    const a = recordToBeSigned(directory.namespace, without);
    const b = recordToBeSigned(directory.namespace, rec);
    expect(Buffer.from(b.subarray(0, a.length))).toEqual(Buffer.from(a));
    expect(b.length).toBeGreaterThan(a.length);
  });

  it('a changed clearance list is a new serial, and a forged one is refused', () => {
    const doc = signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: [billing, shipping],
    });
    const forged = structuredClone(doc);
    const r = forged.records.find((x) => x.identity === 'shipping')!;
    r.detokenizeClasses = ['card'];
    expect(() =>
      validateSnapshot(documentEntries(forged), {
        crypto: w.crypto,
        authorityPublicKey: w.authority.signingKey().publicKey,
        nowMs: w.clock.nowMs(),
      }),
    ).toThrow();
    const empty = structuredClone(doc);
    empty.records.find((x) => x.identity === 'billing')!.detokenizeClasses = [];
    expect(() =>
      validateSnapshot(documentEntries(empty), {
        crypto: w.crypto,
        authorityPublicKey: w.authority.signingKey().publicKey,
        nowMs: w.clock.nowMs(),
      }),
    ).toThrow();
  });
});

describe('token keys, tokenizer and detokenizer', () => {
  it('tokenizes a value, detokenizes for a cleared identity, refuses and audits the rest; rotation keeps old tokens', async () => {
    const ctx = { kms: w.kms, crypto: w.crypto, clock: w.clock };
    const path = join(w.dir, 'token-keys.json');
    await writeTokenKeyFile(path, await generateTokenKeyFile(['card', 'iban', 'email'], ctx), {
      mustNotExist: true,
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const keyring = await loadTokenKeyring(await readTokenKeyFile(path), {
      kms: w.kms,
      crypto: w.crypto,
    });
    const tokenizer = new FieldTokenizer({ keyring, crypto: w.crypto });
    const writer = deriveTokenSchema(SOURCE).text;
    const value = {
      id: 'o-1',
      card: '4111111111111111',
      iban: Buffer.from('DE89370400440532013000'),
      email: 'a@example.org',
    };
    const t1 = tokenizer.tokenize(writer, value) as Record<string, string>;
    expect(value.card).toBe('4111111111111111'); // input untouched
    expect(t1.id).toBe('o-1');
    expect(t1.card).toMatch(/^spt1\.card\.1\.s\./);
    expect(t1.iban).toMatch(/^spt1\.iban\.1\.b\./);
    expect(t1.email).toMatch(/^spm1\.email\.1\.s\./);
    expect(JSON.stringify(t1)).not.toContain('4111111111111111');
    expect(
      (tokenizer.tokenize(writer, { ...value, iban: null }) as Record<string, unknown>).iban,
    ).toBeNull();
    expect(tokenizer.tokenize(writer, value)).toEqual(t1); // deterministic

    const events: Omit<MetadataEvent, 'eventId' | 'timeMs' | 'actor'>[] = [];
    const sink = {
      emit: (e: Omit<MetadataEvent, 'eventId' | 'timeMs' | 'actor'>) => void events.push(e),
    };
    const billingSide = new Detokenizer({
      identity: 'billing',
      keyring,
      directory,
      clock: w.clock,
      events: sink,
    });
    const shippingSide = new Detokenizer({
      identity: 'shipping',
      keyring,
      directory,
      clock: w.clock,
      events: sink,
    });
    expect(billingSide.detokenize(t1.card!, { topic: 'orders' })).toEqual({
      tokenClass: 'card',
      version: 1,
      type: 'string',
      value: '4111111111111111',
    });
    const iban = billingSide.detokenize(t1.iban!);
    expect(iban.type === 'bytes' && Buffer.from(iban.value).toString()).toBe(
      'DE89370400440532013000',
    );
    expect(caught(() => shippingSide.detokenize(t1.card!)).code).toBe('DETOKENIZE_NOT_CLEARED');
    expect(caught(() => billingSide.detokenize(t1.email!)).code).toBe('TOKEN_NOT_REVERSIBLE');
    expect(caught(() => billingSide.detokenize('not-a-token')).code).toBe('TOKEN_MALFORMED');
    expect(events.map((e) => `${e.type}:${e.detail}`)).toEqual([
      'detokenized:class=card;version=1;type=string',
      'detokenized:class=iban;version=1;type=bytes',
      'detokenize_refused:DETOKENIZE_NOT_CLEARED;class=card;version=1;type=string',
      'detokenize_refused:TOKEN_NOT_REVERSIBLE;class=email;version=1;type=string',
      'detokenize_refused:TOKEN_MALFORMED;class=?',
    ]);
    expect(events[0]!.topic).toBe('orders');
    expect(JSON.stringify(events)).not.toContain('4111');

    // Rotation: new tokens carry v2, old ones still open; the keyring loaded before knows only v1.
    const rotated = await rotateTokenClass(await readTokenKeyFile(path), 'card', ctx);
    expect(rotated.version).toBe(2);
    await writeTokenKeyFile(path, rotated.file);
    const keyring2 = await loadTokenKeyring(await readTokenKeyFile(path), {
      kms: w.kms,
      crypto: w.crypto,
    });
    const t2 = new FieldTokenizer({ keyring: keyring2, crypto: w.crypto }).tokenize(
      writer,
      value,
    ) as Record<string, string>;
    expect(parseToken(t2.card!).version).toBe(2);
    expect(t2.card).not.toBe(t1.card);
    expect(t2.iban).toBe(t1.iban); // other classes unchanged
    const billing2 = new Detokenizer({
      identity: 'billing',
      keyring: keyring2,
      directory,
      clock: w.clock,
    });
    expect(billing2.detokenize(t1.card!).value).toBe('4111111111111111');
    expect(billing2.detokenize(t2.card!).value).toBe('4111111111111111');
    expect(caught(() => billingSide.detokenize(t2.card!)).code).toBe('TOKEN_VERSION_UNKNOWN');

    // Wrong value types are refused; closing zeroes the keys.
    expect(caught(() => tokenizer.tokenize(writer, { ...value, card: 42 })).code).toBe(
      'TOKEN_VALUE_INVALID',
    );
    keyring.close();
    keyring2.close();
    expect(caught(() => tokenizer.tokenize(writer, value)).code).toBe('TOKEN_KEYRING_CLOSED');
  });

  it('refuses a key moved to another class slot (check value) and a clearance once the head expired', async () => {
    const ctx = { kms: w.kms, crypto: w.crypto, clock: w.clock };
    const file = await generateTokenKeyFile(['card', 'iban'], ctx);
    const swapped = structuredClone(file);
    swapped.classes[0]!.versions[0]!.wrappedKey = file.classes[1]!.versions[0]!.wrappedKey;
    await expect(loadTokenKeyring(swapped, { kms: w.kms, crypto: w.crypto })).rejects.toMatchObject(
      { code: 'TOKEN_KEY_FILE_INVALID' },
    );
    const keyring = await loadTokenKeyring(file, {
      kms: w.kms,
      crypto: w.crypto,
      classes: ['card'],
    });
    expect(keyring.classes()).toEqual(['card']);
    const token = new FieldTokenizer({ keyring, crypto: w.crypto }).tokenizeValue(
      'card',
      'deterministic',
      'string',
      '4000',
    );
    const d = new Detokenizer({ identity: 'billing', keyring, directory, clock: w.clock });
    expect(d.detokenize(token).value).toBe('4000');
    w.clock.advance(2 * HOUR_MS);
    expect(() => d.detokenize(token)).toThrow(/expired/);
    keyring.close();
  });
});
