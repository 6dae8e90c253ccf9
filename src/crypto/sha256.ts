import { createHash } from 'node:crypto';

import { requireBytes, requireLength } from './argument-checks.js';
import { SHA256_BYTES } from './provider.js';

/**
 * SHA-256 for both providers: node:crypto (OpenSSL) is present wherever sealpost runs and hashes the
 * small RFC 6962 node inputs with less call overhead than a WebAssembly round trip.
 */
export function sha256Into(out: Uint8Array, input: Uint8Array): void {
  requireLength('sha256', 'out', out, SHA256_BYTES);
  requireBytes('sha256', 'input', input);
  out.set(createHash('sha256').update(input).digest());
}
