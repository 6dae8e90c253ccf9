/**
 * `sealpost console` serves the console on its own port (docs/CONSOLE.md): node:http, or node:https
 * with `tls` (and, with a client CA, only to clients whose certificate it signed); bound to 127.0.0.1
 * unless configured otherwise; port 0 picks a free port (see `port` after `start`).
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { listenOn } from '../runtime/http-listen.js';
import type { createConsoleApp } from './console-app.js';

export class ConsoleServer {
  readonly #server: Server;
  readonly #host: string;
  readonly #port: number;

  constructor(options: {
    readonly app: ReturnType<typeof createConsoleApp>;
    readonly port: number;
    readonly host?: string;
    /** PEM certificate and key to serve HTTPS; with `clientCa`, a client certificate it signed is required. */
    readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
  }) {
    this.#host = options.host ?? '127.0.0.1';
    this.#port = options.port;
    const handle = (
      req: Parameters<typeof options.app.handle>[0],
      res: Parameters<typeof options.app.handle>[1],
    ): void => void options.app.handle(req, res);
    const tls = options.tls;
    this.#server =
      tls === undefined
        ? createServer(handle)
        : createTlsServer(
            {
              cert: tls.cert,
              key: tls.key,
              minVersion: 'TLSv1.2',
              ...(tls.clientCa === undefined
                ? {}
                : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
            },
            handle,
          );
    // Slow or idle clients must not hold sockets open for long.
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 120_000;
  }

  async start(): Promise<void> {
    await listenOn(this.#server, this.#port, this.#host);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get host(): string {
    return this.#host;
  }

  async stop(): Promise<void> {
    this.#server.closeIdleConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
