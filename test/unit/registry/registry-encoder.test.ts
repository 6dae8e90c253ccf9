/**
 * SchemaRegistryClient.encoder (src/registry/schema-registry-client.ts): one schema lookup, then each
 * value encoded synchronously into the same Confluent framing `encode` gives (0x00 ‖ u32 id ‖ Avro),
 * which `decode` reads back; a value the schema refuses fails at its own call; an unknown id fails at
 * the lookup. On the registry fake (test/model/registry-fake.ts).
 */
import { describe, expect, it } from 'vitest';
import { SchemaRegistryClient } from '../../../src/registry/schema-registry-client.js';
import { FAKE_REGISTRY_URL, fakeRegistryFetch } from '../../model/registry-fake.js';

const SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Order',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
  ],
});

describe('SchemaRegistryClient.encoder', () => {
  it('encodes each value as encode does, and decode reads it back', async () => {
    const client = new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() });
    const id = await client.register('orders-value', SCHEMA);
    const encode = await client.encoder(id);
    const values = [
      { id: 'a', qty: 1 },
      { id: 'order-ü-2', qty: -7 },
      { id: '', qty: 2147483647 },
    ];
    for (const v of values) {
      const framed = encode(v);
      expect(framed).toEqual(await client.encode(id, v));
      expect([...framed.subarray(0, 5)]).toEqual([
        0,
        id >>> 24,
        (id >>> 16) & 255,
        (id >>> 8) & 255,
        id & 255,
      ]);
      expect((await client.decode(framed)).value).toEqual(v);
    }
  });

  it('fails a value the schema refuses at its own call, and an unknown id at the lookup', async () => {
    const client = new SchemaRegistryClient({ url: FAKE_REGISTRY_URL, fetch: fakeRegistryFetch() });
    const id = await client.register('orders-value', SCHEMA);
    const encode = await client.encoder(id);
    expect(() => encode({ id: 'a', qty: 'many' })).toThrow();
    expect(encode({ id: 'b', qty: 3 }).length).toBeGreaterThan(5);
    await expect(client.encoder(id + 100)).rejects.toMatchObject({ code: expect.any(String) });
  });
});
