/**
 * Measurement only (docs/PERFORMANCE.md "Where the time goes"): what a native CRC32C would save in
 * kafkajs' produce path. kafkajs computes the record-batch CRC32C in JavaScript and offers no option
 * to replace it; this puts a native one (@node-rs/crc32, present as a dependency of another client,
 * not of sealpost) in Node's module cache under kafkajs' own module path before kafkajs loads it.
 * Checked against kafkajs' implementation first. Never used by the library.
 */
import { randomBytes } from 'node:crypto';
import { createRequire, Module } from 'node:module';

const require = createRequire(import.meta.url);

/** Installs the native CRC32C; throws if kafkajs already loaded its own or the two disagree. */
export function installNativeCrc32c(): void {
  const path = require.resolve('kafkajs/src/protocol/recordBatch/crc32C/index.js');
  if (require.cache[path] !== undefined)
    throw new Error('kafkajs already loaded its CRC32C: install the native one first');
  const js = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;
  const { crc32c } = require('@node-rs/crc32') as {
    crc32c: (b: Buffer, initial?: number) => number;
  };
  const native = (buffer: Buffer): number => crc32c(buffer) >>> 0;
  for (const size of [0, 1, 61, 1024, 650_000]) {
    const b = randomBytes(size);
    if (native(b) !== js(b) >>> 0)
      throw new Error(`native CRC32C differs from kafkajs' (${size} B)`);
  }
  const m = new Module(path);
  m.filename = path;
  m.loaded = true;
  m.exports = native;
  require.cache[path] = m;
}
