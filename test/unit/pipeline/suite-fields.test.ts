import { describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import {
  decodeDeadLetterMetadata,
  encodeDeadLetterMetadata,
  signDeadLetter,
  verifyDeadLetter,
  type UnsignedDeadLetterMetadata,
} from '../../../src/events/dead-letter.js';
import {
  canonicalEventBytes,
  validateMetadataEvent,
  type MetadataEvent,
} from '../../../src/events/metadata-event.js';
import { envelopeSuiteOf } from '../../../src/pipeline/envelope-suite.js';

/** The first bytes of a framed v1 envelope of `suite` (magic, schema id 7, version 1, suite). */
const framed = (suiteByte: number, versionByte = 0x02): Uint8Array =>
  Uint8Array.from([0, 0, 0, 0, 7, versionByte, suiteByte, 0xaa, 0xbb]);

describe('envelopeSuiteOf', () => {
  it('reads suite 1 and 2 from the header; anything else is undefined', () => {
    expect(envelopeSuiteOf(framed(0x02))).toBe(1);
    expect(envelopeSuiteOf(framed(0x04))).toBe(2);
    expect(envelopeSuiteOf(framed(0x06))).toBeUndefined();
    expect(envelopeSuiteOf(framed(0x04, 0x04))).toBeUndefined(); // version 2
    expect(envelopeSuiteOf(Uint8Array.from([1, 0, 0, 0, 7, 2, 4]))).toBeUndefined(); // a release
    expect(envelopeSuiteOf(framed(0x04).subarray(0, 6))).toBeUndefined();
    expect(envelopeSuiteOf(null)).toBeUndefined();
  });
});

describe('the suite in dead-letter metadata and metadata events', () => {
  it('dead-letter metadata carries suite 2, signed; without it the form is unchanged', async () => {
    const crypto = await createCryptoProvider();
    const kp = crypto.signKeyPair();
    const base: UnsignedDeadLetterMetadata = {
      v: 1,
      class: 'HEADER',
      sealedDetail: {},
      topic: 't',
      partition: 0,
      offset: '5',
      timestamp: '1',
      group: 'g',
      consumer: 'billing',
      attempt: 1,
      timeMs: 2,
      keyHash: '',
      valueHash: '',
    };
    const with2 = signDeadLetter(crypto, { ...base, suite: 2 }, kp.secretKey);
    const decoded = decodeDeadLetterMetadata(encodeDeadLetterMetadata(with2))!;
    expect(decoded.suite).toBe(2);
    expect(verifyDeadLetter(crypto, decoded, kp.publicKey)).toBe(true);
    // The suite is covered by the signature.
    const { suite: _s, ...stripped } = decoded;
    expect(verifyDeadLetter(crypto, stripped, kp.publicKey)).toBe(false);
    const without = signDeadLetter(crypto, base, kp.secretKey);
    expect(JSON.stringify(without)).not.toContain('suite');
    expect(decodeDeadLetterMetadata(encodeDeadLetterMetadata(without))).not.toBeNull();
    // Only suite 2 is ever written.
    expect(
      decodeDeadLetterMetadata(Buffer.from(JSON.stringify({ ...with2, suite: 1 }))),
    ).toBeNull();
    expect(
      decodeDeadLetterMetadata(Buffer.from(JSON.stringify({ ...with2, suite: '2' }))),
    ).toBeNull();
  });

  it('events accept suite 1 or 2 only; an event without it has its old canonical bytes', () => {
    const e: MetadataEvent = {
      eventId: '0'.repeat(32),
      type: 'opened',
      timeMs: 1,
      actor: 'billing',
      topic: 't',
    };
    expect(validateMetadataEvent({ ...e, suite: 2 })).toEqual([]);
    expect(validateMetadataEvent({ ...e, suite: 3 })).toEqual(['suite invalid']);
    expect(validateMetadataEvent({ ...e, suite: '2' })).toEqual(['suite invalid']);
    expect(new TextDecoder().decode(canonicalEventBytes(e))).toBe(
      '{"eventId":"00000000000000000000000000000000","type":"opened","timeMs":1,"actor":"billing","topic":"t"}',
    );
    expect(new TextDecoder().decode(canonicalEventBytes({ ...e, suite: 2 }))).toMatch(
      /"topic":"t","suite":2\}$/,
    );
  });
});
