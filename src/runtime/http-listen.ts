/**
 * Binding a node:http or node:https server (the workers' health server and the console,
 * docs/OPERATIONS.md and docs/CONSOLE.md): resolves once listening, rejects with the bind error
 * (port in use, address not available).
 */
import type { Server } from 'node:net';

/** Listens on `host:port` (port 0 picks a free port); rejects with the server's `error` event. */
export async function listenOn(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
