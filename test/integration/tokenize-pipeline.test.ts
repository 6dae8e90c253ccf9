/**
 * Field tokenization on the real stack (Kafka, Apicurio, OpenBao Transit): `orders` sends records
 * whose `card` field is tokenized and `email` masked; `shipping` receives tokens and is refused
 * detokenization (typed error + audit event); `billing`, cleared for `card` in the signed directory,
 * detokenizes. Token keys are wrapped by a Transit key. Same value → same token across a restart
 * (keys unwrapped again from the file); after a rotation new tokens carry v2 and v1 tokens still
 * detokenize.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateMetadataEvent, type MetadataEvent } from '../../src/events/metadata-event.js';
import { OpenBaoTransitKms } from '../../src/keys/kms/openbao-transit-kms.js';
import type { MetadataEventEmitter } from '../../src/pipeline/metadata-event-emitter.js';
import {
  decodeMetadataEventBatch,
  METADATA_EVENTS_CONTENT_TYPE,
} from '../../src/pipeline/metadata-event-emitter.js';
import type { SealedDelivery } from '../../src/pipeline/sealed-consumer.js';
import { systemClock } from '../../src/runtime/clock.js';
import { Detokenizer } from '../../src/tokenize/detokenizer.js';
import { FieldTokenizer } from '../../src/tokenize/field-tokenizer.js';
import {
  generateTokenKeyFile,
  openTokenKeyring,
  readTokenKeyFile,
  rotateTokenClass,
  writeTokenKeyFile,
} from '../../src/tokenize/token-key-file.js';
import type { TokenKeyring } from '../../src/tokenize/token-keyring.js';
import { describePlan, tokenPlan } from '../../src/tokenize/token-schema.js';
import { parseToken } from '../../src/tokenize/token-string.js';
import { TokenizeError } from '../../src/tokenize/tokenize-error.js';
import { getEndpoints } from '../support/endpoints.js';
import { BaoAdmin } from '../support/openbao-process.js';
import { type TestConsumer } from '../support/pipeline-parties.js';
import { waitFor } from '../support/test-transport.js';
import { useScenario, withMetadataToAudit } from '../support/scenario.js';

const sc = useScenario({
  purpose: 'tok',
  clientId: 'tokenize',
  partitions: 2,
  metadataTopic: true,
  recipients: ['shipping', 'billing'],
  services: withMetadataToAudit,
});
const { topic, t } = sc;

const CARD = '4111111111111111';
const EMAIL = 'alice@example.org';
const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'TokenOrder',
  namespace: 'dev.sealpost.it',
  fields: [
    { name: 'id', type: 'string' },
    {
      name: 'card',
      type: 'string',
      'sealpost.tokenize': 'deterministic',
      'sealpost.class': 'card',
    },
    {
      name: 'email',
      type: ['null', 'string'],
      default: null,
      'sealpost.tokenize': 'mask',
      'sealpost.class': 'email',
    },
    { name: 'address', type: 'string' },
  ],
});
interface WireOrder {
  id: string;
  card: string;
  email: string | null;
  address: string;
}

let kms: OpenBaoTransitKms;
let keyFile: string;

beforeAll(async () => {
  // The authority clears billing (only) for the card class.
  await sc.world.change([{ ...sc.world.draft('billing'), detokenizeClasses: ['card'] }]);
  const e = getEndpoints();
  const admin = new BaoAdmin(e.vaultAddr, e.vaultToken);
  await admin.ensureTransit();
  const keyName = `test-token-${randomBytes(4).toString('hex')}`;
  await admin.createTransitKey(keyName);
  kms = await OpenBaoTransitKms.create({
    endpoint: e.vaultAddr,
    keyName,
    auth: { method: 'token', token: e.vaultToken },
    clock: systemClock,
  });
  keyFile = join(sc.world.dir, 'token-keys.json');
  await writeTokenKeyFile(
    keyFile,
    await generateTokenKeyFile(['card', 'email'], {
      kms,
      crypto: sc.world.crypto,
      clock: systemClock,
    }),
    { mustNotExist: true },
  );
});

afterAll(async () => {
  await kms?.close();
});

async function loadKeys(): Promise<TokenKeyring> {
  const keyring = await openTokenKeyring({ path: keyFile, kms, crypto: sc.world.crypto });
  sc.defer(() => Promise.resolve(keyring.close()));
  return keyring;
}

/** Starts an `orders` producer with its own keyring (a "process"), sends, closes it. */
async function sendAsFreshProcess(ids: readonly string[]): Promise<void> {
  const keyring = await openTokenKeyring({ path: keyFile, kms, crypto: sc.world.crypto });
  const p = await sc.producer('orders', {
    valueSchemas: { [topic]: SCHEMA },
    tokenizer: new FieldTokenizer({ keyring, crypto: sc.world.crypto }),
  });
  try {
    await p.producer.send({
      topic,
      messages: ids.map((id) => ({
        key: id,
        value: { id, card: CARD, email: id === 'o-3' ? null : EMAIL, address: `${id} Main St` },
      })),
    });
  } finally {
    await p.producer.close();
    keyring.close();
  }
}

const emitterFor = (name: string): Promise<MetadataEventEmitter> =>
  sc.emitter(name, { maxBatch: 50, flushIntervalMs: 200 });

async function consumer(name: string): Promise<TestConsumer> {
  const c = await sc.consumer(name, {
    groupId: `${name}-${topic}`,
    keepDeliveries: true,
  });
  return c;
}

const byId = (ds: readonly SealedDelivery[]): Map<string, WireOrder> =>
  new Map(ds.map((d) => [(d.value as WireOrder).id, d.value as WireOrder]));

describe('tokenized fields through the sealed pipeline', () => {
  it('shipping sees tokens, billing detokenizes, shipping is refused and audited; tokens are stable across restarts and rotation', async () => {
    await sendAsFreshProcess(['o-1', 'o-2', 'o-3']);
    // A restart: the keys are unwrapped again from the file; the same card gives the same token.
    await sendAsFreshProcess(['o-4']);

    const shipping = await consumer('shipping');
    const billing = await consumer('billing');
    await waitFor(
      () => shipping.total() >= 4 && billing.total() >= 4,
      'deliveries to shipping and billing',
      60_000,
    );

    const seen = byId(shipping.deliveries);
    const o1 = seen.get('o-1')!;
    expect(o1.address).toBe('o-1 Main St');
    expect(o1.card).toMatch(/^spt1\.card\.1\.s\./);
    expect(o1.email).toMatch(/^spm1\.email\.1\.s\./);
    expect(seen.get('o-3')!.email).toBeNull();
    expect(JSON.stringify([...seen.values()])).not.toContain(CARD);
    // Same value → same token, within a run and across the restart; the mask too.
    for (const id of ['o-2', 'o-3', 'o-4']) expect(seen.get(id)!.card).toBe(o1.card);
    expect(seen.get('o-4')!.email).toBe(o1.email);

    // The schema the consumer sees says which fields are tokens.
    const writer = await sc.world.registry().getSchema(shipping.deliveries[0]!.schemaId!);
    expect(describePlan(tokenPlan(writer.text))).toEqual([
      { path: 'card', mode: 'deterministic', tokenClass: 'card', type: 'string', nullable: false },
      { path: 'email', mode: 'mask', tokenClass: 'email', type: 'string', nullable: true },
    ]);

    // Detokenize: billing is cleared, shipping is not (even holding the keys).
    const billingEvents = await emitterFor('billing');
    const shippingEvents = await emitterFor('shipping');
    const keys = await loadKeys();
    const billingDetok = new Detokenizer({
      identity: 'billing',
      keyring: keys,
      directory: billing.directory,
      clock: systemClock,
      events: billingEvents,
    });
    const shippingDetok = new Detokenizer({
      identity: 'shipping',
      keyring: keys,
      directory: shipping.directory,
      clock: systemClock,
      events: shippingEvents,
    });
    const billed = byId(billing.deliveries).get('o-1')!;
    expect(billed.card).toBe(o1.card);
    expect(billingDetok.detokenize(billed.card, { topic })).toMatchObject({
      tokenClass: 'card',
      version: 1,
      value: CARD,
    });
    let refused: unknown;
    try {
      shippingDetok.detokenize(o1.card, { topic });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(TokenizeError);
    expect((refused as TokenizeError).code).toBe('DETOKENIZE_NOT_CLEARED');
    expect((refused as TokenizeError).message).not.toContain(o1.card);

    // Rotation: a new card key version; new tokens carry v2, v1 tokens still detokenize.
    const rotated = await rotateTokenClass(await readTokenKeyFile(keyFile), 'card', {
      kms,
      crypto: sc.world.crypto,
      clock: systemClock,
    });
    expect(rotated.version).toBe(2);
    await writeTokenKeyFile(keyFile, rotated.file);
    await sendAsFreshProcess(['o-5']);
    await waitFor(() => billing.total() >= 5, 'the post-rotation record', 60_000);
    const o5 = byId(billing.deliveries).get('o-5')!;
    expect(parseToken(o5.card).version).toBe(2);
    expect(o5.card).not.toBe(o1.card);
    expect(o5.email).toBe(o1.email); // the email class was not rotated
    const keys2 = await loadKeys();
    const billing2 = new Detokenizer({
      identity: 'billing',
      keyring: keys2,
      directory: billing.directory,
      clock: systemClock,
      events: billingEvents,
    });
    expect(billing2.detokenize(o5.card).value).toBe(CARD);
    expect(billing2.detokenize(o1.card).value).toBe(CARD);

    // The audit identity receives the detokenize events, sealed, with no token or value in them.
    const events: MetadataEvent[] = [];
    const problems: string[] = [];
    await sc.consumer('audit', {
      groupId: `audit-${t.metadata}`,
      topics: [t.metadata],
      rawContentTypes: [METADATA_EVENTS_CONTENT_TYPE],
      // Collected here, asserted after the wait (a throw in a handler is a retried failure).
      onMessage: (d) => {
        for (const e of decodeMetadataEventBatch(d.value as Buffer)) {
          problems.push(...validateMetadataEvent(e));
          if ((e as MetadataEvent).actor !== d.sender) problems.push('actor is not the sender');
          events.push(e as MetadataEvent);
        }
        return Promise.resolve();
      },
    });
    await waitFor(
      () =>
        events.filter((e) => e.type === 'detokenized').length >= 3 &&
        events.some((e) => e.type === 'detokenize_refused'),
      'detokenize audit events',
      60_000,
    );
    expect(problems).toEqual([]);
    expect(events.find((e) => e.type === 'detokenize_refused')).toMatchObject({
      actor: 'shipping',
      topic,
      detail: 'DETOKENIZE_NOT_CLEARED;class=card;version=1;type=string',
    });
    expect(
      events.filter((e) => e.type === 'detokenized').map((e) => `${e.actor}:${e.detail}`),
    ).toEqual([
      'billing:class=card;version=1;type=string',
      'billing:class=card;version=2;type=string',
      'billing:class=card;version=1;type=string',
    ]);
    const all = JSON.stringify(events);
    expect(all).not.toContain(CARD);
    expect(all).not.toContain(o1.card);
  });

  it('a producer without the tokenizer refuses a topic whose schema declares token fields', async () => {
    // No value schema given: the producer takes the registry's (the tokenized one).
    const p = await sc.producer('orders', { valueSchemas: {} });
    await expect(
      p.producer.send({
        topic,
        messages: [{ key: 'x', value: { id: 'x', card: CARD, email: null, address: '' } }],
      }),
    ).rejects.toMatchObject({ code: 'VALUE_SCHEMA_UNKNOWN' });
  });
});
