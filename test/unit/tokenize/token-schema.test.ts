import { describe, expect, it } from 'vitest';
import { deriveTokenSchema, describePlan, tokenPlan } from '../../../src/tokenize/token-schema.js';
import { TokenizeError } from '../../../src/tokenize/tokenize-error.js';

const schema = (fields: unknown[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ type: 'record', name: 'Order', namespace: 'dev.t', fields, ...extra });

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof TokenizeError) return err.code;
    throw err;
  }
  return undefined;
}

describe('deriveTokenSchema', () => {
  it('turns annotated string, bytes and nullable fields into annotated string token fields', () => {
    const src = schema([
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
      {
        name: 'email',
        type: { type: 'string' },
        'sealpost.tokenize': 'mask',
        'sealpost.class': 'email',
      },
      {
        name: 'address',
        type: [
          'null',
          {
            type: 'record',
            name: 'Address',
            fields: [
              {
                name: 'street',
                type: 'string',
                'sealpost.tokenize': 'deterministic',
                'sealpost.class': 'addr',
              },
            ],
          },
        ],
      },
      { name: 'billing', type: ['null', 'Address'] },
    ]);
    const { text, fields } = deriveTokenSchema(src);
    const d = JSON.parse(text) as { fields: Record<string, unknown>[] };
    expect(d.fields[1]).toEqual({
      name: 'card',
      type: 'string',
      'sealpost.token': { mode: 'deterministic', class: 'card', type: 'string' },
    });
    expect(d.fields[2]).toEqual({
      name: 'iban',
      type: ['null', 'string'],
      default: null,
      'sealpost.token': { mode: 'deterministic', class: 'iban', type: 'bytes' },
    });
    expect(d.fields[3]).toMatchObject({
      type: 'string',
      'sealpost.token': { mode: 'mask', class: 'email', type: 'string' },
    });
    expect(text).not.toContain('sealpost.tokenize');
    expect(fields.map((f) => f.path)).toEqual([
      'card',
      'iban',
      'email',
      'address.street',
      'billing.street',
    ]);
    // The derived schema is a fixed point, and its plan lists the same fields.
    expect(deriveTokenSchema(text).text).toBe(text);
    expect(describePlan(tokenPlan(text))).toEqual(fields);
  });

  it('leaves schemas without annotations untouched (same text)', () => {
    const src = schema([{ name: 'id', type: 'string' }]);
    expect(deriveTokenSchema(src).text).toBe(src);
    expect(tokenPlan(src).fields.size).toBe(0);
  });

  it('refuses other types with TOKEN_SCHEMA_UNSUPPORTED', () => {
    const ann = { 'sealpost.tokenize': 'deterministic', 'sealpost.class': 'x' };
    for (const type of [
      'long',
      'int',
      'double',
      'boolean',
      ['null', 'long'],
      ['null', 'string', 'bytes'],
      ['string', 'bytes'],
      { type: 'string', logicalType: 'uuid' },
      { type: 'fixed', name: 'F', size: 4 },
      { type: 'array', items: 'string' },
    ]) {
      expect(code(() => deriveTokenSchema(schema([{ name: 'f', type, ...ann }])))).toBe(
        'TOKEN_SCHEMA_UNSUPPORTED',
      );
    }
  });

  it('refuses token fields it could not follow (inside arrays, maps, multi-branch unions)', () => {
    const inner = {
      type: 'record',
      name: 'Line',
      fields: [
        { name: 'card', type: 'string', 'sealpost.tokenize': 'mask', 'sealpost.class': 'card' },
      ],
    };
    expect(
      code(() =>
        deriveTokenSchema(schema([{ name: 'lines', type: { type: 'array', items: inner } }])),
      ),
    ).toBe('TOKEN_SCHEMA_UNSUPPORTED');
    expect(
      code(() =>
        deriveTokenSchema(schema([{ name: 'lines', type: { type: 'map', values: inner } }])),
      ),
    ).toBe('TOKEN_SCHEMA_UNSUPPORTED');
    expect(
      code(() => deriveTokenSchema(schema([{ name: 'x', type: ['null', 'string', inner] }]))),
    ).toBe('TOKEN_SCHEMA_UNSUPPORTED');
    // Defined where it can be followed, then reused inside an array: refused too.
    expect(
      code(() =>
        deriveTokenSchema(
          schema([
            { name: 'one', type: inner },
            { name: 'many', type: { type: 'array', items: 'Line' } },
          ]),
        ),
      ),
    ).toBe('TOKEN_SCHEMA_UNSUPPORTED');
  });

  it('refuses malformed annotations with TOKEN_SCHEMA_INVALID', () => {
    const bad = [
      { name: 'f', type: 'string', 'sealpost.tokenize': 'reversible', 'sealpost.class': 'x' },
      { name: 'f', type: 'string', 'sealpost.tokenize': 'mask' },
      { name: 'f', type: 'string', 'sealpost.tokenize': 'mask', 'sealpost.class': 'Bad.Class' },
      { name: 'f', type: 'string', 'sealpost.class': 'x' },
      { name: 'f', type: { type: 'string', 'sealpost.tokenize': 'mask', 'sealpost.class': 'x' } },
    ];
    for (const f of bad)
      expect(code(() => deriveTokenSchema(schema([f])))).toBe('TOKEN_SCHEMA_INVALID');
    expect(code(() => deriveTokenSchema('{not json'))).toBe('TOKEN_SCHEMA_INVALID');
  });

  it('a writer schema that still carries the source annotation has no plan (its values would be clear)', () => {
    const src = schema([
      {
        name: 'card',
        type: 'string',
        'sealpost.tokenize': 'deterministic',
        'sealpost.class': 'card',
      },
    ]);
    expect(code(() => tokenPlan(src))).toBe('TOKEN_SCHEMA_INVALID');
  });
});
