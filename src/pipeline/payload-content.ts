import type { CryptoProvider } from '../crypto/provider.js';
import { schemaFingerprint } from '../envelope/derive.js';

/**
 * Content types of sealed payloads. `AVRO_CONTENT_TYPE` payloads are Avro in Confluent framing and
 * their body's schemaFp is H16(L(schema) ‖ the registry's text for the framed id). Any other content
 * type is a raw payload (e.g. the metadata-event batches) whose schemaFp is
 * H16(L(schema) ‖ "sealpost-raw:" ‖ contentType), so a raw payload cannot pass as Avro or as another
 * raw type.
 */
export const AVRO_CONTENT_TYPE = 'application/vnd.sealpost.avro+confluent';

/** The schema fingerprint of a raw payload of `contentType`. */
export function rawContentFingerprint(crypto: CryptoProvider, contentType: string): Uint8Array {
  return schemaFingerprint(crypto, `sealpost-raw:${contentType}`);
}
