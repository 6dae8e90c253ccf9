import type { CryptoProvider } from '../../../src/crypto/provider.js';
import { toBase64, toHex } from '../../../src/keys/bytes.js';
import type { DirectoryDocument } from '../../../src/keys/directory/directory-document.js';
import type {
  DirectoryHead,
  DirectoryRecord,
} from '../../../src/keys/directory/directory-record.js';
import {
  compareKeys,
  headToBeSigned,
  recordKeyOf,
  recordsDigest,
  recordToBeSigned,
  signedHeadToJson,
  signedRecordToJson,
} from '../../../src/keys/directory/directory-record.js';
import type { LoadedIdentity } from '../../../src/keys/identity.js';

/**
 * Signs exactly the records given (serials included) with the authority, bypassing the signer's
 * checks: what a buggy or compromised authority tool could publish. For validation tests only.
 */
export function signRawDirectory(
  crypto: CryptoProvider,
  authority: LoadedIdentity,
  records: DirectoryRecord[],
  head: Partial<DirectoryHead> & { issuedAtMs: number; expiresAtMs: number },
): DirectoryDocument {
  const signer = authority.signingKey();
  const sorted = [...records].sort((a, b) => compareKeys(recordKeyOf(a), recordKeyOf(b)));
  const fullHead: DirectoryHead = {
    authorityKid: signer.kid,
    highestSerial: Math.max(0, ...records.map((r) => r.serial)),
    epoch: 1,
    recordCount: sorted.length,
    recordsDigest: recordsDigest(crypto, signer.kid, sorted),
    ...head,
  };
  return {
    format: 'sealpost-directory/v1',
    authority: { kid: toHex(signer.kid), publicKey: toBase64(signer.publicKey) },
    head: signedHeadToJson({
      head: fullHead,
      signature: crypto.signDetached(headToBeSigned(fullHead), signer.secretKey),
    }),
    records: sorted.map((record) =>
      signedRecordToJson({
        record,
        signature: crypto.signDetached(recordToBeSigned(signer.kid, record), signer.secretKey),
      }),
    ),
  };
}
