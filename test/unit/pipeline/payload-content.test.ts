import { describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../../src/crypto/index.js';
import { schemaFingerprint } from '../../../src/envelope/derive.js';
import { rawContentFingerprint } from '../../../src/pipeline/payload-content.js';

describe('raw content fingerprints', () => {
  it('differ per content type and from any schema text of the same characters', async () => {
    const c = await createCryptoProvider();
    const a = rawContentFingerprint(c, 'application/x-a');
    expect(a).toHaveLength(16);
    expect(rawContentFingerprint(c, 'application/x-a')).toEqual(a);
    expect(rawContentFingerprint(c, 'application/x-b')).not.toEqual(a);
    expect(schemaFingerprint(c, 'application/x-a')).not.toEqual(a);
  });
});
