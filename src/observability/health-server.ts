import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { listenOn } from '../runtime/http-listen.js';

/** Further pages served under `prefix` (the operator console, docs/CONSOLE.md): its own methods and auth. */
export interface ExtraRoutes {
  readonly prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** What `/healthz` reports: ok plus a few facts, never secrets. */
export type HealthCheck = () => { ok: boolean; detail?: Record<string, unknown> };

/**
 * The workers' HTTP endpoints: `GET /healthz` (200 when healthy, 503 otherwise, JSON body) and
 * `GET /metrics` (Prometheus text format from the given registry). Listens on 127.0.0.1 unless told
 * otherwise; port 0 picks a free port (see `port` after `start`).
 */
export class HealthServer {
  readonly #server: Server;
  readonly #host: string;
  readonly #port: number;

  constructor(options: {
    registry: Registry;
    health: HealthCheck;
    port: number;
    host?: string;
    /** E.g. the console under /console (off unless given). */
    extra?: ExtraRoutes;
  }) {
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port;
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const extra = options.extra;
      if (extra !== undefined && (path === extra.prefix || path.startsWith(`${extra.prefix}/`))) {
        void extra.handle(req, res);
        return;
      }
      if (req.method !== 'GET') {
        res.writeHead(405).end();
        return;
      }
      if (path === '/healthz') {
        let body: { ok: boolean; detail?: Record<string, unknown> };
        try {
          body = options.health();
        } catch {
          body = { ok: false };
        }
        res.writeHead(body.ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
        return;
      }
      if (path === '/metrics') {
        options.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': options.registry.contentType });
            res.end(text);
          },
          () => res.writeHead(500).end(),
        );
        return;
      }
      res.writeHead(404).end();
    });
  }

  async start(): Promise<void> {
    await listenOn(this.#server, this.#port, this.#host);
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
