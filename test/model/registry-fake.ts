/**
 * An in-memory fake of the Confluent Schema Registry API, as a `fetch` for SchemaRegistryClient — for
 * model tests of our own consumer logic only (the integration tests use Apicurio). It answers the
 * calls the pipeline makes: PUT /config/{subject}, POST /subjects/{subject}/versions (same text, same
 * id), GET /subjects/{subject}/versions/latest and GET /schemas/ids/{id}; anything else is a 404.
 */
import type { FetchFunction } from '../../src/registry/schema-registry-client.js';

export const FAKE_REGISTRY_URL = 'http://registry.invalid/apis/ccompat/v7';

export function fakeRegistryFetch(): FetchFunction {
  const byId = new Map<number, string>();
  const subjects = new Map<string, number[]>();
  const answer = (status: number, body: unknown) =>
    Promise.resolve({
      status,
      headers: { get: () => null },
      text: () => Promise.resolve(JSON.stringify(body)),
    });
  const notFound = (code: number) => answer(404, { error_code: code, message: 'not found' });
  return (url, init) => {
    const path = url.slice(FAKE_REGISTRY_URL.length).split('/').map(decodeURIComponent);
    // ['', 'config', s] | ['', 'subjects', s, 'versions'] | [..., 'latest'] | ['', 'schemas', 'ids', id]
    if (path[1] === 'config' && init.method === 'PUT')
      return answer(200, JSON.parse(init.body ?? '{}') as unknown);
    if (path[1] === 'subjects' && path[3] === 'versions') {
      const subject = path[2]!;
      if (init.method === 'POST') {
        const { schema } = JSON.parse(init.body ?? '{}') as { schema: string };
        let id = [...byId].find(([, text]) => text === schema)?.[0];
        if (id === undefined) {
          id = byId.size + 1;
          byId.set(id, schema);
        }
        const versions = subjects.get(subject) ?? [];
        if (!versions.includes(id)) versions.push(id);
        subjects.set(subject, versions);
        return answer(200, { id });
      }
      if (path[4] === 'latest') {
        const versions = subjects.get(subject);
        if (versions === undefined) return notFound(40401);
        const id = versions.at(-1)!;
        return answer(200, { id, version: versions.length, subject, schema: byId.get(id) });
      }
    }
    if (path[1] === 'schemas' && path[2] === 'ids') {
      const text = byId.get(Number(path[3]));
      return text === undefined ? notFound(40403) : answer(200, { schema: text });
    }
    return notFound(40401);
  };
}
