import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import { PipelineError } from './pipeline-error.js';

/** The subject the envelope schema is registered under (TopicNameStrategy is taken by payload schemas). */
export const DEFAULT_ENVELOPE_SUBJECT = 'sealpost-envelope';

// From src/pipeline/ (tsx, tests) and from dist/src/pipeline/ (the published build).
const CANDIDATES = ['../../schemas/envelope.avsc', '../../../schemas/envelope.avsc'];

/** Reads schemas/envelope.avsc (the text registered, byte for byte). */
export async function readEnvelopeSchemaText(): Promise<string> {
  for (const rel of CANDIDATES) {
    try {
      return await readFile(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new PipelineError(
    'ENVELOPE_SCHEMA_UNAVAILABLE',
    'schemas/envelope.avsc was not found next to the package',
  );
}

/**
 * Registers the envelope schema so registry-aware tools can show the envelope's structure, and returns
 * its id: the pinned envelope schema id every record carries. Registering the same text again returns
 * the same id, so producers and consumers of a registry agree without configuration.
 */
export async function registerEnvelopeSchema(
  registry: SchemaRegistryClient,
  subject = DEFAULT_ENVELOPE_SUBJECT,
): Promise<number> {
  return registry.register(subject, await readEnvelopeSchemaText(), { compatibility: 'NONE' });
}
