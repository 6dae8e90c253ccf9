/**
 * node-vault is loaded by the first Transit KMS made, not with the package: a process on the local key
 * file never carries it (≈ 3 MB of live heap every full collection would mark). Runs in a fresh Node
 * process: vitest's workers share their module cache between test files.
 */
import { describe, expect, it } from 'vitest';
import { lastJsonLine, runFreshScript } from '../../support/fresh-process.js';

const SCRIPT = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/node-vault/'));
const sealpost = await import('./src/index.ts');
const withPackage = loaded();
const kms = await sealpost.OpenBaoTransitKms.create({
  endpoint: 'http://127.0.0.1:1',
  keyName: 'lazy-load',
  auth: { method: 'token', token: 'not-a-real-token' },
});
const withTransit = loaded();
await kms.close();
console.log(JSON.stringify({ withPackage, withTransit }));
`;

describe('node-vault loading', () => {
  it('is not loaded by importing sealpost, and is by the first Transit KMS', () => {
    const res = runFreshScript(SCRIPT);
    expect(res.status, res.stderr).toBe(0);
    expect(lastJsonLine(res.stdout)).toEqual({ withPackage: false, withTransit: true });
  });
});
