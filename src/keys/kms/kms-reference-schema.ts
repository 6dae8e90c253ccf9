import { z } from 'zod';
import type { KmsReference } from './kms.js';

/** A KMS reference as key files store it (strict: an unknown field is refused). */
export const kmsReferenceSchema: z.ZodType<KmsReference> = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('openbao-transit'),
      keyName: z.string().min(1).max(128),
      mountPath: z.string().min(1).max(128),
      namespace: z.string().min(1).max(128).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('local'), keyName: z.string().min(1).max(128) }).strict(),
]);
