/**
 * C2SP signed notes and tlog checkpoints (docs/AUDIT.md). The known answer is the example key and
 * note published with Go's golang.org/x/mod/sumdb/note (an independent implementation of the same
 * spec): from its Ed25519 seed we must derive the same key ID, verifier key string and signature line
 * byte for byte. Then what verification must refuse, per the spec.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import type { CryptoProvider } from '../../../src/crypto/provider.js';
import {
  ed25519KeyId,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatVerifierKey,
  openNote,
  parseVerifierKey,
  signNote,
  type NoteVerifier,
} from '../../../src/audit/signed-note.js';
import {
  formatCheckpoint,
  openCheckpoint,
  parseCheckpoint,
  signCheckpoint,
} from '../../../src/audit/tlog-checkpoint.js';

/** Go note package example: name, key material (0x01 ‖ seed), verifier key and signed note. */
const GO_NAME = 'PeterNeumann';
const GO_SEED = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1);
const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT =
  'If you think cryptography is the answer to your problem,\n' +
  "then you don't know what your problem is.\n";
const GO_NOTE =
  GO_TEXT +
  '\n' +
  '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

let crypto: CryptoProvider;
let goKeys: { publicKey: Uint8Array; secretKey: Uint8Array };
let goVerifier: NoteVerifier;

beforeAll(async () => {
  crypto = await createCryptoProvider('sodium-native');
  goKeys = crypto.signKeyPairFromSeed(new Uint8Array(GO_SEED));
  goVerifier = ed25519NoteVerifier(crypto, GO_NAME, goKeys.publicKey);
});

describe('C2SP signed note: known answer', () => {
  it('derives the key ID and verifier key string of the published example', () => {
    expect(ed25519KeyId(crypto, GO_NAME, goKeys.publicKey)).toBe(0xc74f20a3);
    expect(formatVerifierKey(crypto, GO_NAME, goKeys.publicKey)).toBe(GO_VKEY);
    const parsed = parseVerifierKey(crypto, GO_VKEY);
    expect(parsed?.name).toBe(GO_NAME);
    expect(parsed?.keyId).toBe(0xc74f20a3);
  });

  it('signs the example text to the published note, and opens it', () => {
    const signer = ed25519NoteSigner(crypto, GO_NAME, goKeys.secretKey);
    expect(signNote(GO_TEXT, [signer])).toBe(GO_NOTE);
    const opened = openNote(GO_NOTE, [goVerifier]);
    expect(opened).toEqual({
      ok: true,
      text: GO_TEXT,
      verifiedBy: [{ name: GO_NAME, keyId: 0xc74f20a3 }],
    });
    expect(openNote(new TextEncoder().encode(GO_NOTE), [goVerifier]).ok).toBe(true);
  });
});

describe('C2SP signed note: refusals', () => {
  it('refuses a verifier key whose key ID does not match, or of another type', () => {
    expect(parseVerifierKey(crypto, GO_VKEY.replace('c74f20a3', 'c74f20a4'))).toBeNull();
    expect(parseVerifierKey(crypto, GO_VKEY.replace('PeterNeumann', 'PeterNeuman'))).toBeNull();
    const material = Buffer.from(GO_VKEY.split('+')[2]!, 'base64');
    material[0] = 0x02;
    expect(parseVerifierKey(crypto, `${GO_NAME}+c74f20a3+${material.toString('base64')}`)).toBe(
      null,
    );
    expect(parseVerifierKey(crypto, 'no-plus-signs')).toBeNull();
  });

  it('a bad signature from a known key refuses the note; unknown keys are ignored', () => {
    const other = crypto.signKeyPair();
    const otherSigner = ed25519NoteSigner(crypto, 'example.com/other', other.secretKey);
    const both = signNote(GO_TEXT, [
      ed25519NoteSigner(crypto, GO_NAME, goKeys.secretKey),
      otherSigner,
    ]);
    expect(openNote(both, [goVerifier]).ok).toBe(true); // the other signature is unknown: ignored
    expect(openNote(both, [])).toEqual({ ok: false, problem: 'UNKNOWN_KEY' });
    // Same name, other key: its key ID differs, so it is an unknown key, not a bad signature.
    const impostor = ed25519NoteSigner(crypto, GO_NAME, other.secretKey);
    expect(openNote(signNote(GO_TEXT, [impostor]), [goVerifier])).toEqual({
      ok: false,
      problem: 'UNKNOWN_KEY',
    });
    // Right name and key ID, wrong signature bytes.
    const forged = { name: GO_NAME, keyId: 0xc74f20a3, sign: () => new Uint8Array(64).fill(7) };
    expect(openNote(signNote(GO_TEXT, [forged]), [goVerifier])).toEqual({
      ok: false,
      problem: 'BAD_SIGNATURE',
    });
    // Edited text under the original signature.
    expect(openNote(GO_NOTE.replace('answer', 'question'), [goVerifier])).toEqual({
      ok: false,
      problem: 'BAD_SIGNATURE',
    });
  });

  it('refuses malformed notes', () => {
    const sigLine = GO_NOTE.slice(GO_TEXT.length + 1);
    const malformed = [
      GO_TEXT + sigLine, // no blank line
      `${GO_TEXT}\n`, // no signatures
      GO_NOTE.slice(0, -1), // last signature line without newline
      `${GO_TEXT}\n${sigLine.replace('— ', '-- ')}`, // not an em dash
      `${GO_TEXT}\n${sigLine.replace('PeterNeumann ', 'Peter+Neumann ')}`, // '+' in the name
      `${GO_TEXT}\n${sigLine.replace('AM=', 'AM')}`, // unpadded base64
      `${GO_TEXT}\n— PeterNeumann AAAA\n`, // fewer than 5 bytes
      GO_NOTE.replace('problem,', 'problem,\t'), // a control character
      `${GO_TEXT}\n${sigLine.repeat(101)}`, // too many signatures
    ];
    for (const note of malformed)
      expect(openNote(note, [goVerifier])).toEqual({ ok: false, problem: 'MALFORMED' });
    const invalidUtf8 = Buffer.concat([Buffer.from(GO_NOTE), Buffer.from([0xff])]);
    expect(openNote(invalidUtf8, [goVerifier])).toEqual({ ok: false, problem: 'MALFORMED' });
  });

  it('never throws on arbitrary input, and accepts only what verifies', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const opened = openNote(s, [goVerifier]);
        if (opened.ok) expect(s.startsWith(GO_TEXT)).toBe(true);
      }),
    );
  });
});

describe('C2SP tlog-checkpoint', () => {
  const origin = 'sealpost.example/audit/test';
  const rootHash = new Uint8Array(32).map((_, i) => i);

  it('lays out origin, size and base64 root, and round-trips', () => {
    const text = formatCheckpoint({ origin, size: 20852163, rootHash, extensions: [] });
    expect(text).toBe(`${origin}\n20852163\n${Buffer.from(rootHash).toString('base64')}\n`);
    expect(parseCheckpoint(text)).toEqual({ origin, size: 20852163, rootHash, extensions: [] });
    const withExt = formatCheckpoint({ origin, size: 0, rootHash, extensions: ['x y'] });
    expect(parseCheckpoint(withExt)?.extensions).toEqual(['x y']);
  });

  it('refuses texts that are not checkpoints', () => {
    const root64 = Buffer.from(rootHash).toString('base64');
    for (const text of [
      `${origin}\n012\n${root64}\n`, // leading zero
      `${origin}\n-1\n${root64}\n`,
      `${origin}\n12\n${root64.slice(4)}\n`, // not 32 bytes
      `${origin}\n12\n`,
      `${origin}\n12\n${root64}\n\n`, // empty extension line
      `${origin}\n12\n${root64}`, // no final newline
      `${origin}\n99999999999999999999\n${root64}\n`,
    ]) {
      expect(parseCheckpoint(text), text).toBeNull();
    }
  });

  it('signs and opens a checkpoint; refuses another origin or a non-checkpoint note', () => {
    const keys = crypto.signKeyPair();
    const signer = ed25519NoteSigner(crypto, origin, keys.secretKey);
    const verifier = ed25519NoteVerifier(crypto, origin, keys.publicKey);
    const note = signCheckpoint({ origin, size: 5, rootHash, extensions: [] }, [signer]);
    const opened = openCheckpoint(note, [verifier], origin);
    expect(opened.ok && opened.checkpoint.size).toBe(5);
    expect(openCheckpoint(note, [verifier], `${origin}2`)).toEqual({
      ok: false,
      problem: 'WRONG_ORIGIN',
    });
    expect(openCheckpoint(signNote('hello\n', [signer]), [verifier])).toEqual({
      ok: false,
      problem: 'NOT_A_CHECKPOINT',
    });
    expect(openCheckpoint(note.replace('\n5\n', '\n6\n'), [verifier])).toEqual({
      ok: false,
      problem: 'BAD_SIGNATURE',
    });
  });
});
