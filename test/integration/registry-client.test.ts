/**
 * SchemaRegistryClient against the real registry of the stack (Apicurio 3, Confluent API): register
 * with explicit compatibility, exact schema text by id, Confluent framing round trips, schema
 * evolution with a reader schema, typed errors for unknown ids, incompatible schemas and an
 * unreachable registry.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AvroCodec } from '../../src/registry/avro-codec.js';
import { AvroDecodeError } from '../../src/registry/avro-errors.js';
import { RegistryError } from '../../src/registry/registry-error.js';
import { SchemaRegistryClient } from '../../src/registry/schema-registry-client.js';
import { getEndpoints } from '../support/endpoints.js';

const endpoints = getEndpoints();
const client = () =>
  new SchemaRegistryClient({ url: endpoints.schemaRegistryUrl, fetch: globalThis.fetch });
const unique = (purpose: string) => `test-${purpose}-${randomBytes(6).toString('hex')}-value`;

const v1 = JSON.stringify({
  type: 'record',
  name: 'Payment',
  namespace: 'dev.sealpost.it',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'cents', type: 'long' },
  ],
});
const v2 = JSON.stringify({
  type: 'record',
  name: 'Payment',
  namespace: 'dev.sealpost.it',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'cents', type: 'long' },
    { name: 'currency', type: 'string', default: 'EUR' },
  ],
});

async function expectRegistryError(
  p: Promise<unknown>,
  code: RegistryError['code'],
  retriable: boolean,
): Promise<RegistryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).code).toBe(code);
    expect((err as RegistryError).retriable).toBe(retriable);
    return err as RegistryError;
  }
  throw new Error(`expected RegistryError ${code}`);
}

describe('SchemaRegistryClient on the real registry', () => {
  it('sets compatibility explicitly, registers, and returns the same id for the same schema', async () => {
    const registry = client();
    const subject = unique('registry-register');
    expect(await registry.getCompatibility(subject)).toBeUndefined();
    const id = await registry.register(subject, v1, { compatibility: 'BACKWARD' });
    expect(Number.isInteger(id) && id >= 0).toBe(true);
    expect(await registry.getCompatibility(subject)).toBe('BACKWARD');
    expect(await registry.register(subject, v1)).toBe(id);
    expect(await registry.latestSchemaId(subject)).toBe(id);
  });

  it('returns the exact schema text by id and round-trips Confluent-framed payloads', async () => {
    const registry = client();
    const subject = unique('registry-roundtrip');
    const id = await registry.register(subject, v1);
    const schema = await registry.getSchema(id);
    expect(schema.id).toBe(id);
    // The text is what the registry stores for the id; our fingerprint is over these bytes.
    expect(JSON.parse(schema.text)).toEqual(JSON.parse(v1));
    const again = await client().getSchema(id);
    expect(again.text).toBe(schema.text);

    const value = { id: 'pay-1', cents: 1999 };
    const framed = await registry.encode(id, value);
    expect(framed[0]).toBe(0);
    expect(framed.readUInt32BE(1)).toBe(id);
    // A different client (cold cache) decodes it through the registry.
    const decoded = await client().decode(framed);
    expect(decoded.schemaId).toBe(id);
    expect(decoded.value).toEqual(value);
  });

  it('reads old data with a newer reader schema after a compatible evolution', async () => {
    const registry = client();
    const subject = unique('registry-evolution');
    const id1 = await registry.register(subject, v1);
    const id2 = await registry.register(subject, v2);
    expect(id2).not.toBe(id1);
    const framed = await registry.encode(id1, { id: 'p', cents: 5 });
    const { value } = await registry.decode(framed, { reader: AvroCodec.parse(v2) });
    expect(value).toEqual({ id: 'p', cents: 5, currency: 'EUR' });
  });

  it('refuses an incompatible schema with SCHEMA_INCOMPATIBLE (permanent)', async () => {
    const registry = client();
    const subject = unique('registry-incompatible');
    await registry.register(subject, v1, { compatibility: 'BACKWARD' });
    const breaking = JSON.stringify({
      type: 'record',
      name: 'Payment',
      namespace: 'dev.sealpost.it',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'required', type: 'int' },
      ],
    });
    await expectRegistryError(registry.register(subject, breaking), 'SCHEMA_INCOMPATIBLE', false);
  });

  it('refuses an unknown schema id with SCHEMA_NOT_FOUND (permanent)', async () => {
    const err = await expectRegistryError(
      client().getSchema(2_000_000_000),
      'SCHEMA_NOT_FOUND',
      false,
    );
    expect(err.status).toBe(404);
  });

  it('refuses a hostile payload under a real schema without a crash', async () => {
    const registry = client();
    const subject = unique('registry-hostile');
    const id = await registry.register(subject, JSON.stringify({ type: 'array', items: 'null' }));
    const framed = Buffer.from([0, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00]);
    framed.writeUInt32BE(id, 1);
    await expect(registry.decode(framed)).rejects.toBeInstanceOf(AvroDecodeError);
    await expect(registry.decode(framed)).rejects.toMatchObject({ code: 'PAYLOAD_LIMIT_EXCEEDED' });
  });

  it('reports an unreachable registry as a retriable REGISTRY_UNAVAILABLE', async () => {
    // A port that was free a moment ago: connection refused.
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port: p } = server.address() as { port: number };
        server.close(() => resolve(p));
      });
    });
    const down = new SchemaRegistryClient({
      url: `http://127.0.0.1:${port}/apis/ccompat/v7`,
      fetch: globalThis.fetch,
    });
    const err = await expectRegistryError(down.getSchema(1), 'REGISTRY_UNAVAILABLE', true);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('reports a registry that does not answer in time as a retriable REGISTRY_UNAVAILABLE', async () => {
    // A server that accepts the connection and never answers.
    const sockets = new Set<Socket>();
    const server = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const slow = new SchemaRegistryClient({
        url: `http://127.0.0.1:${port}`,
        fetch: globalThis.fetch,
        requestTimeoutMs: 300,
      });
      await expectRegistryError(slow.getSchema(1), 'REGISTRY_UNAVAILABLE', true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
