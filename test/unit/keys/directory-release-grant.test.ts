import { describe, expect, it } from 'vitest';
import {
  parseSignedRecord,
  recordToBeSigned,
  signedRecordToJson,
  type DirectoryRecord,
} from '../../../src/keys/directory/directory-record.js';

const base: DirectoryRecord = {
  identity: 'ops',
  serial: 3,
  status: 'active',
  boxKid: new Uint8Array(16).fill(1),
  boxPublicKey: new Uint8Array(32).fill(2),
  signKid: new Uint8Array(16).fill(3),
  signPublicKey: new Uint8Array(32).fill(4),
  validFromMs: 1000,
  validUntilMs: 2000,
  retiredAtMs: null,
  sendTopics: [],
  receiveTopics: [],
};
const authority = new Uint8Array(16).fill(9);

describe('the release grant of a directory record (docs/SPEC.md §11.1)', () => {
  it('is signed as extension 2 and leaves records without it byte-identical', () => {
    const plain = recordToBeSigned(authority, base);
    const granted = recordToBeSigned(authority, { ...base, releaseTopics: ['orders', 'pay.*'] });
    expect(Buffer.from(granted.subarray(0, plain.length))).toEqual(Buffer.from(plain));
    const ext = Buffer.from(granted.subarray(plain.length));
    expect(ext[0]).toBe(2);
    expect(ext.readUInt16BE(1)).toBe(2);
    expect(ext.subarray(3).toString('latin1')).toBe('\0\x06orders\0\x05pay.*');
    // An empty grant is no grant: the same bytes as none.
    expect(recordToBeSigned(authority, { ...base, releaseTopics: [] })).toEqual(plain);
  });

  it('round-trips through the JSON wire form; an empty list is refused', () => {
    const signed = {
      record: { ...base, releaseTopics: ['orders'] },
      signature: new Uint8Array(64),
    };
    const json = signedRecordToJson(signed);
    expect(json.releaseTopics).toEqual(['orders']);
    expect(parseSignedRecord(json).record.releaseTopics).toEqual(['orders']);
    expect(signedRecordToJson({ record: base, signature: new Uint8Array(64) })).not.toHaveProperty(
      'releaseTopics',
    );
    expect(() => parseSignedRecord({ ...json, releaseTopics: [] })).toThrow(/malformed/);
  });
});
