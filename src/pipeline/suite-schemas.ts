/**
 * The suite-2 (X-Wing) envelope schema id a producer or consumer pins (docs/SPEC.md: a suite-2 record
 * is framed with the id of schemas/envelope-xwing.avsc). Registered only when the suite policy may
 * seal or open suite 2, so a classical-only service makes no extra registry call.
 */
import type { SuitePolicy } from '../keys/suite-policy.js';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import { registerXWingEnvelopeSchema } from './envelope-schema.js';

export async function resolveSuite2SchemaId(args: {
  readonly suites: SuitePolicy;
  readonly pinned: number | undefined;
  readonly registry: SchemaRegistryClient;
  readonly envelopeSubject: string;
}): Promise<number | undefined> {
  if (args.pinned !== undefined) return args.pinned;
  if (!args.suites.usesSuite2) return undefined;
  return registerXWingEnvelopeSchema(args.registry, args.envelopeSubject);
}
