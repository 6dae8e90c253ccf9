import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import type { RecipientKey } from '../../../src/keys/directory/key-directory.js';
import { PolicyError } from '../../../src/keys/policy.js';
import { parseSuitePolicyText, SuitePolicy } from '../../../src/keys/suite-policy.js';

const recipient = (identity: string, kem: boolean): RecipientKey => ({
  identity,
  kid: new Uint8Array(16),
  publicKey: new Uint8Array(32),
  status: 'active',
  validFromMs: 0,
  validUntilMs: 1,
  receiveTopics: ['*'],
  ...(kem ? { kem: { kid: new Uint8Array(16).fill(1), publicKey: new Uint8Array(1216) } } : {}),
});

describe('suite policy per topic', () => {
  const policy = new SuitePolicy({
    topics: {
      'orders.v1': 'require',
      'orders.*': 'allow',
      'orders.audit.*': 'classical',
      'payments.*': 'require',
    },
  });

  it('resolves a topic: exact name first, then the longest prefix, else classical', () => {
    expect(policy.modeFor('orders.v1')).toBe('require');
    expect(policy.modeFor('orders.v2')).toBe('allow');
    expect(policy.modeFor('orders.audit.x')).toBe('classical');
    expect(policy.modeFor('payments.eu')).toBe('require');
    expect(policy.modeFor('billing')).toBe('classical');
    expect(new SuitePolicy({ topics: { '*': 'allow' } }).modeFor('anything')).toBe('allow');
  });

  it('sealer: classical → 1; allow → 2 only when every recipient has an X-Wing key; require → 2 or a typed refusal', () => {
    const both = [recipient('a', true), recipient('b', true)];
    const mixed = [recipient('a', true), recipient('b', false), recipient('c', false)];
    expect(policy.sealingSuite('billing', both)).toBe(1);
    expect(policy.sealingSuite('orders.v2', both)).toBe(2);
    expect(policy.sealingSuite('orders.v2', mixed)).toBe(1);
    expect(policy.sealingSuite('orders.v1', both)).toBe(2);
    let err: unknown;
    try {
      policy.sealingSuite('orders.v1', mixed);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).code).toBe('POLICY_RECIPIENT_NO_XWING_KEY');
    expect((err as PolicyError).message).toContain('b, c');
    expect((err as PolicyError).message).not.toContain(' a,');
  });

  it('consumer: require refuses suite 1; classical refuses suite 2 unless configured; unknown suites never open', () => {
    expect(policy.opens('orders.v1', 1)).toBe(false);
    expect(policy.opens('orders.v1', 2)).toBe(true);
    expect(policy.opens('orders.v2', 1)).toBe(true);
    expect(policy.opens('orders.v2', 2)).toBe(true);
    expect(policy.opens('billing', 1)).toBe(true);
    expect(policy.opens('billing', 2)).toBe(false);
    expect(policy.opens('billing', 3)).toBe(false);
    const lenient = new SuitePolicy({ classicalOpensSuite2: true });
    expect(lenient.opens('billing', 2)).toBe(true);
    expect(lenient.opens('billing', 1)).toBe(true);
  });

  it('the default is classical everywhere and needs no suite-2 schema', () => {
    expect(SuitePolicy.CLASSICAL.modeFor('x')).toBe('classical');
    expect(SuitePolicy.CLASSICAL.usesSuite2).toBe(false);
    expect(SuitePolicy.CLASSICAL.sealingSuite('x', [recipient('a', true)])).toBe(1);
    expect(policy.usesSuite2).toBe(true);
    expect(new SuitePolicy({ classicalOpensSuite2: true }).usesSuite2).toBe(true);
  });

  it('refuses bad modes and patterns with every problem listed', () => {
    let err: unknown;
    try {
      new SuitePolicy({
        topics: { 'a b': 'allow', ok: 'sometimes' as 'allow', 'x*y': 'require' },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ARGUMENT_INVALID');
    expect((err as ConfigError).problems).toHaveLength(3);
    expect(parseSuitePolicyText('a=require, b.*=allow ,').problems).toEqual([]);
    expect(parseSuitePolicyText('a=require, b.*=allow ,').topics).toEqual({
      a: 'require',
      'b.*': 'allow',
    });
    expect(parseSuitePolicyText('a').problems).toHaveLength(1);
    expect(parseSuitePolicyText('=allow').problems).toHaveLength(1);
    expect(parseSuitePolicyText('a=allow,a=require').problems).toEqual(['"a" is given twice']);
  });
});
