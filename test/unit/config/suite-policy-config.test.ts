import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suitePolicyOf } from '../../../src/app/compose.js';
import { loadConfig, parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-suite-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('suite policy configuration', () => {
  it('defaults: every topic classical, suite 2 not opened', () => {
    const c = loadConfig({});
    expect(c.suitePolicy).toEqual({});
    expect(c.classicalOpensSuite2).toBe(false);
  });

  it('reads SEALPOST_SUITE_POLICY pairs and SEALPOST_CLASSICAL_OPENS_SUITE2', () => {
    const c = loadConfig({
      SEALPOST_SUITE_POLICY: 'orders.v1=require, payments.*=allow',
      SEALPOST_CLASSICAL_OPENS_SUITE2: 'true',
    });
    expect(c.suitePolicy).toEqual({ 'orders.v1': 'require', 'payments.*': 'allow' });
    expect(c.classicalOpensSuite2).toBe(true);
    // What services and the audit worker build from it.
    const policy = suitePolicyOf(c);
    expect(policy.modeFor('orders.v1')).toBe('require');
    expect(policy.modeFor('payments.eu')).toBe('allow');
    expect(policy.opens('other', 2)).toBe(true);
    expect(suitePolicyOf(loadConfig({})).opens('other', 2)).toBe(false);
  });

  it('reads an object and a JSON boolean from the config file; the environment wins', async () => {
    const file = join(dir, 'config.json');
    await writeFile(
      file,
      JSON.stringify({ suitePolicy: { 'orders.*': 'allow' }, classicalOpensSuite2: true }),
    );
    expect(loadConfig({ SEALPOST_CONFIG: file })).toMatchObject({
      suitePolicy: { 'orders.*': 'allow' },
      classicalOpensSuite2: true,
    });
    expect(
      loadConfig({ SEALPOST_CONFIG: file, SEALPOST_SUITE_POLICY: 'x=require' }).suitePolicy,
    ).toEqual({ x: 'require' });
  });

  it('names the variable and the problem for each bad entry', () => {
    const { config, problems } = parseConfig({
      SEALPOST_SUITE_POLICY: 'orders.v1=maybe,bad topic=allow,lonely',
      SEALPOST_CLASSICAL_OPENS_SUITE2: 'yes',
    });
    expect(config).toBeUndefined();
    expect(problems).toEqual([
      'SEALPOST_SUITE_POLICY: "lonely" must be pattern=mode (mode: classical, allow or require)',
      'SEALPOST_SUITE_POLICY: "orders.v1": mode must be classical, allow or require',
      'SEALPOST_SUITE_POLICY: "bad topic" is not a topic name or a prefix ending in * (letters, digits, . _ -)',
      'SEALPOST_CLASSICAL_OPENS_SUITE2: must be true or false',
    ]);
    expect(() => loadConfig({ SEALPOST_SUITE_POLICY: 'a=never' })).toThrow(ConfigError);
  });
});
