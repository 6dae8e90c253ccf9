import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { SchemaRegistryClient } from '../registry/schema-registry-client.js';
import { PipelineError } from './pipeline-error.js';

/** The subject the envelope schema is registered under (TopicNameStrategy is taken by payload schemas). */
export const DEFAULT_ENVELOPE_SUBJECT = 'sealpost-envelope';

/** The suite-2 (X-Wing) envelope schema's subject: the suite-1 subject with this suffix. */
export const XWING_ENVELOPE_SUBJECT_SUFFIX = '-xwing';

/** Reads schemas/<file> from the package (the text registered, byte for byte). */
async function readSchemaFile(file: string): Promise<string> {
  // From src/pipeline/ (tsx, tests) and from dist/src/pipeline/ (the published build).
  for (const rel of [`../../schemas/${file}`, `../../../schemas/${file}`]) {
    try {
      return await readFile(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new PipelineError(
    'ENVELOPE_SCHEMA_UNAVAILABLE',
    `schemas/${file} was not found next to the package`,
  );
}

/** Reads schemas/envelope.avsc (the text registered, byte for byte). */
export async function readEnvelopeSchemaText(): Promise<string> {
  return readSchemaFile('envelope.avsc');
}

/**
 * Reads schemas/envelope-xwing.avsc: the suite-2 envelope (docs/SPEC.md), whose slot boxes are
 * 1,216 bytes. A suite-2 record is framed with this schema's id.
 */
export async function readXWingEnvelopeSchemaText(): Promise<string> {
  return readSchemaFile('envelope-xwing.avsc');
}

/**
 * Registers the suite-2 envelope schema under `<envelope subject>-xwing` and returns its id, the
 * pinned id of suite-2 records (as {@link registerEnvelopeSchema} does for suite 1).
 */
export async function registerXWingEnvelopeSchema(
  registry: SchemaRegistryClient,
  envelopeSubject = DEFAULT_ENVELOPE_SUBJECT,
): Promise<number> {
  return registry.register(
    `${envelopeSubject}${XWING_ENVELOPE_SUBJECT_SUFFIX}`,
    await readXWingEnvelopeSchemaText(),
    { compatibility: 'NONE' },
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
