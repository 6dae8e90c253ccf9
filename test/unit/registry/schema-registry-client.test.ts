/**
 * The client's own logic with an in-memory fetch: status mapping, caching (LRU, one request per
 * concurrent miss), answer validation. The real registry is exercised in
 * test/integration/registry-client.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AvroSchemaError } from '../../../src/registry/avro-errors.js';
import { RegistryError } from '../../../src/registry/registry-error.js';
import {
  SchemaRegistryClient,
  type FetchFunction,
} from '../../../src/registry/schema-registry-client.js';

interface Call {
  method: string;
  url: string;
  body: string | undefined;
  headers: Record<string, string>;
}

function fakeFetch(answer: (call: Call) => { status: number; body: string }): {
  fetch: FetchFunction;
  calls: Call[];
} {
  const calls: Call[] = [];
  const fetch: FetchFunction = async (url, init) => {
    const call = { method: init.method, url, body: init.body, headers: init.headers };
    calls.push(call);
    await Promise.resolve();
    const { status, body } = answer(call);
    return { status, headers: { get: () => null }, text: () => Promise.resolve(body) };
  };
  return { fetch, calls };
}

const schemaAnswer = (id: number) =>
  JSON.stringify({
    schema: JSON.stringify({
      type: 'record',
      name: `R${id}`,
      fields: [{ name: 'a', type: 'int' }],
    }),
  });

describe('SchemaRegistryClient (logic)', () => {
  it('maps HTTP statuses and Confluent error codes to typed errors', async () => {
    const cases: [number, string, string, boolean][] = [
      [500, '{}', 'REGISTRY_UNAVAILABLE', true],
      [503, 'Service Unavailable', 'REGISTRY_UNAVAILABLE', true],
      [429, '{}', 'REGISTRY_UNAVAILABLE', true],
      [404, '{"error_code":40403,"message":"Schema not found"}', 'SCHEMA_NOT_FOUND', false],
      [404, '', 'SCHEMA_NOT_FOUND', false],
      [401, '{}', 'REGISTRY_UNAUTHORIZED', false],
      [400, '{}', 'REGISTRY_REQUEST_FAILED', false],
      [200, '[]', 'REGISTRY_RESPONSE_INVALID', false],
      [200, 'not json', 'REGISTRY_RESPONSE_INVALID', false],
      [200, '{"schemaType":"AVRO"}', 'REGISTRY_RESPONSE_INVALID', false],
    ];
    for (const [status, body, code, retriable] of cases) {
      const { fetch } = fakeFetch(() => ({ status, body }));
      const client = new SchemaRegistryClient({ url: 'http://registry', fetch });
      const err = await client.getSchema(7).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RegistryError);
      expect([status, (err as RegistryError).code, (err as RegistryError).retriable]).toEqual([
        status,
        code,
        retriable,
      ]);
    }
  });

  it('refuses non-Avro and invalid schemas permanently', async () => {
    for (const body of [
      JSON.stringify({ schema: '{}', schemaType: 'PROTOBUF' }),
      JSON.stringify({ schema: '{"type":"nope"}' }),
    ]) {
      const { fetch } = fakeFetch(() => ({ status: 200, body }));
      await expect(
        new SchemaRegistryClient({ url: 'http://r', fetch }).getSchema(1),
      ).rejects.toBeInstanceOf(AvroSchemaError);
    }
  });

  it('fetches a schema once for concurrent misses and serves it from the cache afterwards', async () => {
    const { fetch, calls } = fakeFetch((c) => ({
      status: 200,
      body: schemaAnswer(Number(c.url.split('/').pop())),
    }));
    const client = new SchemaRegistryClient({ url: 'http://r/', fetch });
    const [a, b] = await Promise.all([client.getSchema(3), client.getSchema(3)]);
    expect(a).toBe(b);
    expect(await client.getSchema(3)).toBe(a);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET http://r/schemas/ids/3']);
  });

  it('evicts the least recently used schema beyond maxCachedSchemas', async () => {
    const { fetch, calls } = fakeFetch((c) => ({
      status: 200,
      body: schemaAnswer(Number(c.url.split('/').pop())),
    }));
    const client = new SchemaRegistryClient({ url: 'http://r', fetch, maxCachedSchemas: 2 });
    await client.getSchema(1);
    await client.getSchema(2);
    await client.getSchema(1); // 1 is now the most recent
    await client.getSchema(3); // evicts 2
    await client.getSchema(1);
    await client.getSchema(2);
    expect(calls.map((c) => c.url.split('/').pop())).toEqual(['1', '2', '3', '2']);
  });

  it('does not cache failures: a transient error is retried on the next call', async () => {
    let up = false;
    const { fetch } = fakeFetch(() =>
      up ? { status: 200, body: schemaAnswer(1) } : { status: 503, body: '' },
    );
    const client = new SchemaRegistryClient({ url: 'http://r', fetch });
    await expect(client.getSchema(1)).rejects.toMatchObject({
      code: 'REGISTRY_UNAVAILABLE',
      retriable: true,
    });
    up = true;
    expect((await client.getSchema(1)).id).toBe(1);
  });

  it('sets compatibility before registering and sends Basic auth without leaking it into errors', async () => {
    const { fetch, calls } = fakeFetch((c) =>
      c.url.endsWith('/versions')
        ? { status: 409, body: '{"error_code":409,"message":"incompatible"}' }
        : { status: 200, body: '{"compatibility":"FULL"}' },
    );
    const client = new SchemaRegistryClient({
      url: 'http://r',
      fetch,
      basicAuth: { username: 'u', password: 'hunter2' },
    });
    const err = await client.register('s-value', '"string"', { compatibility: 'FULL' }).then(
      () => undefined,
      (e: unknown) => e as RegistryError,
    );
    expect(err?.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(err?.message).not.toContain('hunter2');
    expect(calls.map((c) => `${c.method} ${c.url} ${c.body ?? ''}`)).toEqual([
      'PUT http://r/config/s-value {"compatibility":"FULL"}',
      'POST http://r/subjects/s-value/versions {"schema":"\\"string\\""}',
    ]);
    expect(calls[0]!.headers.Authorization).toBe(
      `Basic ${Buffer.from('u:hunter2').toString('base64')}`,
    );
  });

  it('validates the schema locally before any request', async () => {
    const { fetch, calls } = fakeFetch(() => ({ status: 200, body: '{"id":1}' }));
    await expect(
      new SchemaRegistryClient({ url: 'http://r', fetch }).register('s', '{"type":"bogus"}'),
    ).rejects.toBeInstanceOf(AvroSchemaError);
    expect(calls).toHaveLength(0);
  });
});
