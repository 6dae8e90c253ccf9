/**
 * The tokenize CLI on the real stack: `tokenize keys init|list|rotate`, `tokenize schema`, and
 * `detokenize` run as a service identity — allowed for the identity the directory clears (prints the
 * value), refused with DETOKENIZE_NOT_CLEARED (exit 1) otherwise — each audited: the event is sealed
 * to `audit` on the metadata topic and read back by an audit SealedConsumer.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCryptoProvider } from '../../src/crypto/index.js';
import type { CryptoProvider } from '../../src/crypto/provider.js';
import type { MetadataEvent } from '../../src/events/metadata-event.js';
import { FileDirectorySource } from '../../src/keys/directory/directory-document.js';
import { KeyDirectory } from '../../src/keys/directory/key-directory.js';
import { LocalKms } from '../../src/keys/kms/local-kms.js';
import { openIdentity } from '../../src/keys/operations.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
} from '../../src/pipeline/metadata-event-emitter.js';
import { SealedConsumer } from '../../src/pipeline/sealed-consumer.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { systemClock } from '../../src/runtime/clock.js';
import { FieldTokenizer } from '../../src/tokenize/field-tokenizer.js';
import { openTokenKeyring } from '../../src/tokenize/token-key-file.js';
import { getEndpoints } from '../support/endpoints.js';
import { createTopics, freshTopic, testTransport, waitFor } from '../support/test-transport.js';
import { runCli } from '../support/run-cli.js';

const CARD = '5500005555555559';
const transport = testTransport('tokenize-cli');
const meta = freshTopic('tokcli-meta');
const state = freshTopic('tokcli-state');
const dlq = freshTopic('tokcli-dlq');
let dir: string;
let env: Record<string, string>;
let crypto: CryptoProvider;
let kms: LocalKms;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-tokcli-'));
  const e = getEndpoints();
  env = {
    SEALPOST_KEYS_DIR: join(dir, 'keys'),
    SEALPOST_LOCAL_KEK_FILE: join(dir, 'kek.json'),
    SEALPOST_DIRECTORY_FILE: join(dir, 'directory.json'),
    SEALPOST_METADATA_TOPIC: meta,
    KAFKA_BROKERS: e.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: e.schemaRegistryUrl,
  };
  const a = await runCli(['keys', 'init-authority', '--json'], env);
  expect(a.code, a.err).toBe(0);
  env.SEALPOST_AUTHORITY_PUBLIC_KEY = (JSON.parse(a.out) as { publicKey: string }).publicKey;
  for (const name of ['billing', 'shipping', 'audit'])
    expect((await runCli(['keys', 'create', name], env)).code).toBe(0);
  crypto = await createCryptoProvider();
  kms = await LocalKms.open({ path: env.SEALPOST_LOCAL_KEK_FILE!, crypto, clock: systemClock });
  // The clearance is granted with the directory CLI: `detokenize=<classes>` in a grant.
  const pub = await runCli(
    [
      'directory',
      'publish',
      '--grant',
      `billing:send=${meta}:detokenize=card`,
      '--grant',
      `shipping:send=${meta}`,
      '--grant',
      `audit:receive=${meta}`,
    ],
    env,
  );
  expect(pub.code, pub.err).toBe(0);
  const show = await runCli(['directory', 'show', '--json'], env);
  const records = (
    JSON.parse(show.out) as { records: { identity: string; detokenizeClasses?: string[] }[] }
  ).records;
  expect(records.find((r) => r.identity === 'billing')?.detokenizeClasses).toEqual(['card']);
  expect(records.find((r) => r.identity === 'shipping')?.detokenizeClasses).toBeUndefined();
  await createTopics(transport, [
    { topic: meta },
    { topic: dlq },
    { topic: state, compacted: true },
  ]);
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await kms?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('sealpost tokenize / detokenize', () => {
  it('keys init, list, rotate; schema shows the derived schema', async () => {
    const init = await runCli(['tokenize', 'keys', 'init', '--classes', 'card,email'], env);
    expect(init.code, init.err).toBe(0);
    expect(init.out).toContain(join(dir, 'keys', 'token-keys.json'));
    const again = await runCli(['tokenize', 'keys', 'init', '--classes', 'card'], env);
    expect(again.code).not.toBe(0);
    const schemaFile = join(dir, 'order.avsc');
    await writeFile(
      schemaFile,
      JSON.stringify({
        type: 'record',
        name: 'O',
        fields: [
          {
            name: 'card',
            type: 'string',
            'sealpost.tokenize': 'deterministic',
            'sealpost.class': 'card',
          },
        ],
      }),
    );
    const schema = await runCli(['tokenize', 'schema', schemaFile, '--json'], env);
    expect(schema.code, schema.err).toBe(0);
    expect(JSON.parse(schema.out)).toMatchObject({
      fields: [{ path: 'card', mode: 'deterministic', tokenClass: 'card', type: 'string' }],
    });
    const rot = await runCli(['tokenize', 'keys', 'rotate', '--class', 'email', '--json'], env);
    expect(JSON.parse(rot.out)).toEqual({ class: 'email', version: 2 });
    const list = await runCli(['tokenize', 'keys', 'list', '--json'], env);
    expect(
      (JSON.parse(list.out) as { class: string; version: number }[]).map(
        (r) => `${r.class}:${r.version}`,
      ),
    ).toEqual(['card:1', 'email:1', 'email:2']);
    expect(list.out).not.toMatch(/local:v\d+:/); // no wrapped keys printed
  });

  it('detokenize: the cleared identity gets the value, another is refused; both are audited', async () => {
    const keyring = await openTokenKeyring({
      path: join(dir, 'keys', 'token-keys.json'),
      kms,
      crypto,
    });
    const token = new FieldTokenizer({ keyring, crypto }).tokenizeValue(
      'card',
      'deterministic',
      'string',
      CARD,
    );
    keyring.close();

    const ok = await runCli(['detokenize', token, '--topic', 'orders'], {
      ...env,
      SEALPOST_IDENTITY_FILE: join(dir, 'keys', 'billing.json'),
    });
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toBe(`${CARD}\n`);
    const refused = await runCli(['detokenize', token, '--json'], {
      ...env,
      SEALPOST_IDENTITY_FILE: join(dir, 'keys', 'shipping.json'),
    });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('DETOKENIZE_NOT_CLEARED');
    expect(refused.out + refused.err).not.toContain(CARD);
    expect(refused.out + refused.err).not.toContain(token);

    const identity = await openIdentity({ path: join(dir, 'keys', 'audit.json'), kms, crypto });
    const directory = await KeyDirectory.open({
      crypto,
      clock: systemClock,
      authorityPublicKey: Buffer.from(env.SEALPOST_AUTHORITY_PUBLIC_KEY!, 'hex'),
      source: new FileDirectorySource(env.SEALPOST_DIRECTORY_FILE!),
    });
    const events: MetadataEvent[] = [];
    const audit = new SealedConsumer({
      transport,
      groupId: `audit-${meta}`,
      topics: [meta],
      registry: new SchemaRegistryClient({
        url: env.SCHEMA_REGISTRY_URL!,
        fetch: globalThis.fetch,
      }),
      crypto,
      clock: systemClock,
      identity,
      directory,
      kms,
      stateTopic: state,
      deadLetterTopic: dlq,
      fromBeginning: true,
      rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE],
    });
    closers.push(async () => {
      await audit.close();
      identity.close();
    });
    await audit.run({
      eachMessage: (d) => {
        for (const e of decodeMetadataEventBatch(d.value as Buffer))
          events.push(e as MetadataEvent);
        return Promise.resolve();
      },
    });
    await waitFor(() => events.length >= 2, 'two detokenize audit events', 60_000);
    expect(events.map((e) => `${e.type}:${e.actor}:${e.detail}`).sort()).toEqual([
      'detokenize_refused:shipping:DETOKENIZE_NOT_CLEARED;class=card;version=1;type=string',
      'detokenized:billing:class=card;version=1;type=string',
    ]);
    expect(events.find((e) => e.type === 'detokenized')?.topic).toBe('orders');
  });
});
