/**
 * kafkajs' producer computes record-batch CRC32Cs with the native function src/kafka/kafkajs-crc32c.ts
 * installs, which agrees with kafkajs' own; when kafkajs was loaded before it, kafkajs keeps its own.
 * Each case runs in a fresh Node process (the module cache is per process and vitest's workers share
 * it between test files).
 */
import { describe, expect, it } from 'vitest';
import { runFreshScriptForJson } from '../../support/fresh-process.js';

const COMPARE = `
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
const require = createRequire(process.cwd() + '/package.json');
const used = require('kafkajs/src/protocol/recordBatch/crc32C/index.js');
const js = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js');
let agree = 0;
const sizes = [0, 1, 2, 7, 8, 9, 63, 64, 65, 1000, 4096, 65537];
for (let i = 0; i < 200; i++) {
  const b = randomBytes(sizes[i % sizes.length] + (i >> 4));
  if (used(b) === (js(b) >>> 0)) agree++;
}
`;

describe('kafkajs CRC32C', () => {
  it('the transport installs the native CRC32C before kafkajs loads; it agrees with kafkajs on 200 random buffers', () => {
    const out = runFreshScriptForJson(`
      const { kafkajsCrc32c } = await import('./src/kafka/kafkajs-crc32c.ts');
      await import('./src/kafka/kafkajs-transport.ts');
      ${COMPARE}
      console.log(JSON.stringify({ state: kafkajsCrc32c, native: used.toString().includes('crc32c('), agree }));
    `);
    expect(out).toEqual({ state: { kind: 'native' }, native: true, agree: 200 });
  });

  it('kafkajs whose CRC32C module was loaded first keeps its JavaScript one, and says why', () => {
    // kafkajs loads its record-batch modules when it first builds a produce request.
    const out = runFreshScriptForJson(`
      const nodeModule = await import('node:module');
      nodeModule.createRequire(process.cwd() + '/package.json')('kafkajs/src/protocol/recordBatch/v0/index.js');
      const { kafkajsCrc32c } = await import('./src/kafka/kafkajs-crc32c.ts');
      ${COMPARE}
      console.log(JSON.stringify({ state: kafkajsCrc32c, native: used.toString().includes('crc32c('), agree }));
    `);
    expect(out).toEqual({
      state: { kind: 'javascript', reason: 'kafkajs CRC32C already loaded' },
      native: false,
      agree: 200,
    });
  });
});
