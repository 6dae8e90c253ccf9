/**
 * An HTTP proxy in front of the schema registry that can answer 503 for a while (issue #15: "the
 * registry answering 5xx"). It forwards every request unchanged otherwise, and counts what it failed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export class RegistryProxy {
  /**
   * `all`: every request is answered 503 Service Unavailable; `lookups`: only schema look-ups by id
   * (`GET …/schemas/ids/<id>`, what a consumer asks per new writer schema); false: none.
   */
  failing: 'all' | 'lookups' | false = false;
  /** Requests answered 503 so far. */
  refused = 0;
  /** Requests forwarded so far. */
  forwarded = 0;
  #server: Server | undefined;
  readonly #target: URL;

  /** `target`: the registry's Confluent-compatible base URL (its path is kept). */
  constructor(target: string) {
    this.#target = new URL(target);
  }

  /** The base URL clients use instead of the registry's (same path, the proxy's port). */
  url = '';

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const lookup = /\/schemas\/ids\/\d+/.test(req.url ?? '');
      if (this.failing === 'all' || (this.failing === 'lookups' && lookup)) {
        this.refused++;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error_code":50301,"message":"chaos: registry unavailable"}');
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.forwarded++;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
        const body = chunks.length === 0 ? undefined : Buffer.concat(chunks);
        fetch(new URL(req.url ?? '/', this.#target.origin), {
          method: req.method ?? 'GET',
          headers,
          ...(body === undefined ? {} : { body }),
        })
          .then(async (r) => {
            const out = Buffer.from(await r.arrayBuffer());
            res.writeHead(r.status, {
              'content-type': r.headers.get('content-type') ?? 'application/json',
            });
            res.end(out);
          })
          .catch(() => {
            res.writeHead(502);
            res.end();
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    const port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}${this.#target.pathname}`;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
