/**
 * A native CRC32C for kafkajs' producer (docs/PERFORMANCE.md "Where the time goes"). kafkajs writes a
 * CRC32C over every record batch it produces and computes it in JavaScript, with no option to replace
 * it; on sealed records (bigger than plain ones) that is several per cent of the producer's CPU.
 *
 * This module puts @node-rs/crc32's native CRC32C into Node's module cache under kafkajs' own module
 * path (kafkajs-module-cache.ts), so that kafkajs picks it up when it loads its record-batch encoder. It must therefore be
 * evaluated first: src/kafka/kafkajs-transport.ts imports it before kafkajs. Before installing, it
 * checks the native function against kafkajs' own on fixed inputs. kafkajs keeps its JavaScript
 * CRC32C when the native module cannot load (a platform without a prebuilt binary), when the
 * application had kafkajs load its encoder earlier (its CRC32C module already in the cache), or when
 * the check fails. The broker verifies every batch's CRC on produce (a wrong one is refused as
 * CORRUPT_MESSAGE), so every produce on the real stack checks this too.
 */
import { alreadyLoaded, kafkajsRequire as require, preloadModule } from './kafkajs-module-cache.js';

/** Which CRC32C kafkajs computes record batches with, and why. */
export type KafkajsCrc32c =
  | { readonly kind: 'native' }
  | {
      readonly kind: 'javascript';
      readonly reason:
        'native module unavailable' | 'kafkajs CRC32C already loaded' | 'check failed';
    };

const CRC_MODULE = 'kafkajs/src/protocol/recordBatch/crc32C/index.js';
const JS_CRC = 'kafkajs/src/protocol/recordBatch/crc32C/crc32C.js';
const CHECK_SIZES = [0, 1, 3, 61, 1024, 4099] as const;

/** Deterministic bytes of a given size (the check needs no randomness). */
function pattern(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 131 + 7) & 0xff;
  return b;
}

function install(): KafkajsCrc32c {
  let path: string;
  let native: (buffer: Buffer) => number;
  try {
    path = require.resolve(CRC_MODULE);
    const { crc32c } = require('@node-rs/crc32') as {
      crc32c: (input: Buffer, initial?: number) => number;
    };
    native = (buffer) => crc32c(buffer) >>> 0;
  } catch {
    return { kind: 'javascript', reason: 'native module unavailable' };
  }
  if (alreadyLoaded(path)) return { kind: 'javascript', reason: 'kafkajs CRC32C already loaded' };
  const js = require(JS_CRC) as (buffer: Buffer) => number;
  for (const size of CHECK_SIZES) {
    const b = pattern(size);
    if (native(b) !== js(b) >>> 0) return { kind: 'javascript', reason: 'check failed' };
  }
  // kafkajs' index.js returns the CRC as an unsigned 32-bit number; so does `native`.
  preloadModule(path, native);
  return { kind: 'native' };
}

/** Resolved once, when this module is first evaluated (before kafkajs loads). */
export const kafkajsCrc32c: KafkajsCrc32c = install();
