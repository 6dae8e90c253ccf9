/**
 * Each topic's writer schema (registered from `valueSchemas`, through the tokenizer when there is one,
 * or the subject's latest version) and its fingerprint, loaded once per topic (a failure is not
 * cached); and the fingerprints of raw content types.
 */
import type { CryptoProvider } from '../../crypto/provider.js';
import { schemaFingerprint } from '../../envelope/derive.js';
import { RegistryError } from '../../registry/registry-error.js';
import type { SchemaRegistryClient } from '../../registry/schema-registry-client.js';
import { rawContentFingerprint } from '../payload-content.js';
import { PipelineError } from '../pipeline-error.js';
import type { TopicSchema, ValueTokenizer } from './producer-types.js';

export interface TopicSchemasOptions {
  readonly registry: SchemaRegistryClient;
  readonly crypto: CryptoProvider;
  readonly valueSchemas?: Readonly<Record<string, string>>;
  readonly tokenizer?: ValueTokenizer;
}

export class TopicSchemas {
  readonly #o: TopicSchemasOptions;
  readonly #schemas = new Map<string, Promise<TopicSchema>>();
  readonly #rawFps = new Map<string, Uint8Array>();

  constructor(options: TopicSchemasOptions) {
    this.#o = options;
  }

  forTopic(topic: string): Promise<TopicSchema> {
    let pending = this.#schemas.get(topic);
    if (pending === undefined) {
      pending = this.#load(topic);
      this.#schemas.set(topic, pending);
      // A transient failure must not be cached.
      pending.catch(() => this.#schemas.delete(topic));
    }
    return pending;
  }

  rawFingerprint(contentType: string): Uint8Array {
    let fp = this.#rawFps.get(contentType);
    if (fp === undefined) {
      fp = rawContentFingerprint(this.#o.crypto, contentType);
      this.#rawFps.set(contentType, fp);
    }
    return fp;
  }

  async #load(topic: string): Promise<TopicSchema> {
    const { registry, tokenizer } = this.#o;
    // An own property only: a topic may be named `constructor` or `toString` (legal Kafka names).
    const schemas = this.#o.valueSchemas;
    const given =
      schemas !== undefined && Object.hasOwn(schemas, topic) ? schemas[topic] : undefined;
    const text =
      given === undefined || tokenizer === undefined ? given : tokenizer.writerSchemaFor(given);
    let id: number;
    if (text !== undefined) {
      id = await registry.register(`${topic}-value`, text);
    } else {
      try {
        id = await registry.latestSchemaId(`${topic}-value`);
      } catch (err) {
        if (err instanceof RegistryError && err.code === 'SUBJECT_NOT_FOUND') {
          throw new PipelineError(
            'VALUE_SCHEMA_UNKNOWN',
            `no schema for ${topic}: pass valueSchemas or register ${topic}-value`,
          );
        }
        throw err;
      }
    }
    const schema = await registry.getSchema(id);
    // Token fields hold strings: without the tokenizer their cleartext would be accepted and sealed.
    if (tokenizer === undefined && /"sealpost\.(token|tokenize)"/.test(schema.text)) {
      throw new PipelineError(
        'VALUE_SCHEMA_UNKNOWN',
        `the schema of ${topic} declares token fields: pass a tokenizer`,
      );
    }
    return { id, fp: schemaFingerprint(this.#o.crypto, schema.text), text: schema.text };
  }
}
