import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentEntries } from '../../../src/keys/directory/directory-document.js';
import { DirectoryError } from '../../../src/keys/directory/directory-error.js';
import {
  parseSignedRecord,
  signedRecordToJson,
} from '../../../src/keys/directory/directory-record.js';
import { signDirectory } from '../../../src/keys/directory/directory-signer.js';
import type { DirectoryRecordDraft } from '../../../src/keys/directory/directory-signer.js';
import { validateSnapshot } from '../../../src/keys/directory/directory-snapshot.js';
import type { KeysWorld } from '../../support/keys/fixtures.js';
import { makeWorld } from '../../support/keys/fixtures.js';

let w: KeysWorld;
let base: DirectoryRecordDraft;
let second: DirectoryRecordDraft;
beforeAll(async () => {
  w = await makeWorld();
  base = (await w.service('svc', ['a'], ['b'])).draft;
  second = (await w.service('other', ['x'], ['y', 'z'])).draft;
});
afterAll(async () => {
  await w.cleanup();
});

const topic = fc.stringMatching(/^[a-z0-9._-]{1,12}\*?$/);
const draftArb = fc.record({
  sendTopics: fc.array(topic, { maxLength: 5 }),
  receiveTopics: fc.array(topic, { maxLength: 5 }),
  validFromMs: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  lengthMs: fc.integer({ min: 1, max: 1_000_000_000_000 }),
  status: fc.constantFrom('active' as const, 'retiring' as const, 'revoked' as const),
});

const HOUR_MS = 3_600_000;

describe('directory records (properties)', () => {
  it('any well-formed record signs, validates and round-trips through JSON unchanged', () => {
    fc.assert(
      fc.property(draftArb, (d) => {
        const draft: DirectoryRecordDraft = {
          ...base,
          sendTopics: d.sendTopics,
          receiveTopics: d.receiveTopics,
          validFromMs: d.validFromMs,
          validUntilMs: d.validFromMs + d.lengthMs,
          status: d.status,
          retiredAtMs: d.status === 'active' ? null : d.validFromMs,
        };
        const doc = signDirectory({
          crypto: w.crypto,
          authority: w.authority,
          clock: w.clock,
          headTtlMs: HOUR_MS,
          changes: [draft],
        });
        const snap = validateSnapshot(documentEntries(doc), {
          crypto: w.crypto,
          authorityPublicKey: w.authority.signingKey().publicKey,
          nowMs: w.clock.nowMs(),
        });
        expect(snap.records).toHaveLength(1);
        expect(signedRecordToJson(parseSignedRecord(doc.records[0]))).toEqual(doc.records[0]);
      }),
      { numRuns: 60 },
    );
  });

  it('changing any one field of a signed record makes it refused', () => {
    const doc = signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: [base],
    });
    const original = doc.records[0]!;
    const other = signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: [{ ...second, validFromMs: 5, validUntilMs: 6 }],
    }).records[0]!;
    const fields = [
      'identity',
      'serial',
      'status',
      'box',
      'sign',
      'validFromMs',
      'validUntilMs',
      'retiredAtMs',
      'sendTopics',
      'receiveTopics',
    ] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.integer({ min: 1, max: 1000 }), (field, n) => {
        const mutated: Record<string, unknown> = { ...original };
        switch (field) {
          case 'serial':
            mutated.serial = original.serial + n;
            break;
          case 'status':
            mutated.status = 'retiring';
            mutated.retiredAtMs = n;
            break;
          case 'retiredAtMs':
            mutated.retiredAtMs = n;
            break;
          case 'validFromMs':
          case 'validUntilMs':
            mutated[field] = original[field] + n;
            break;
          default:
            mutated[field] = other[field];
        }
        const entries = documentEntries({ ...doc, records: [mutated as typeof original] });
        let refused = false;
        try {
          validateSnapshot(entries, {
            crypto: w.crypto,
            authorityPublicKey: w.authority.signingKey().publicKey,
            nowMs: w.clock.nowMs(),
          });
        } catch (err) {
          expect(err).toBeInstanceOf(DirectoryError);
          refused = true;
        }
        expect(refused).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('arbitrary junk entries never crash validation: they are refused and the signed set still loads', () => {
    const doc = signDirectory({
      crypto: w.crypto,
      authority: w.authority,
      clock: w.clock,
      headTtlMs: HOUR_MS,
      changes: [base],
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 40 }), fc.oneof(fc.jsonValue(), fc.anything())), {
          maxLength: 8,
        }),
        (junk) => {
          const entries = [
            ...junk.filter(([k]) => k !== 'head').map(([key, value]) => ({ key, value })),
            ...documentEntries(doc).entries,
          ];
          const snap = validateSnapshot(
            { entries },
            {
              crypto: w.crypto,
              authorityPublicKey: w.authority.signingKey().publicKey,
              nowMs: w.clock.nowMs(),
            },
          );
          expect(snap.records).toHaveLength(1);
          expect(snap.refused.length).toBe(entries.length - 2);
        },
      ),
      { numRuns: 200 },
    );
  });
});
