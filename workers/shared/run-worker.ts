/**
 * What the worker entry points share: `/healthz` and `/metrics`, the start, the ready line for
 * supervisors and tests (`<name> ready port=<port> pid=<pid>`: the pid of the process that
 * holds the worker, which is not the launcher's when started through `npm run`), and a clean stop on SIGTERM and SIGINT (exit 0,
 * or 1 when the stop itself failed; the log line carries the error code only).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BrokerProbe } from '../../src/observability/broker-probe.js';
import {
  HealthServer,
  type ExtraRoutes,
  type HealthCheck,
} from '../../src/observability/health-server.js';

export interface RunnableWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
  health: HealthCheck;
  /** Called back when the worker cannot go on (e.g. its consumer gave up restarting): exit 1. */
  onFailed?(listener: (error: unknown) => void): void;
}

export interface RunWorkerOptions {
  /** The process name, as in the ready line: `sealpost-audit-worker`. */
  readonly name: string;
  readonly worker: RunnableWorker;
  readonly registry: Registry;
  readonly port: number;
  readonly host?: string;
  readonly logger: Logger;
  /** Extra fields for the "started" log line (no secrets). */
  readonly startedFields?: () => Record<string, unknown>;
  /**
   * The worker's broker probe: `/healthz` fails when the broker has not answered within its bound,
   * and it measures the group's lag (docs/OPERATIONS.md, "Metrics to alert on").
   */
  readonly probe?: BrokerProbe;
  /** Further pages on the HTTP port (the console, SEALPOST_WORKER_CONSOLE=on; docs/CONSOLE.md). */
  readonly extra?: ExtraRoutes;
  /** Runs first on a stop signal (e.g. stop refreshing the directory). */
  readonly beforeStop?: () => void;
  /** Runs after the worker and the HTTP server stopped (close keys, the KMS client). */
  readonly afterStop?: () => Promise<void> | void;
}

/** Starts the HTTP endpoints and the worker, prints the ready line, and stops on SIGTERM/SIGINT. */
export async function runWorker(o: RunWorkerOptions): Promise<void> {
  const http = new HealthServer({
    registry: o.registry,
    health: () => combinedHealth(o.worker, o.probe),
    port: o.port,
    ...(o.host === undefined ? {} : { host: o.host }),
    ...(o.extra === undefined ? {} : { extra: o.extra }),
  });
  await http.start();
  await o.worker.start();
  o.probe?.start();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    o.logger.info({ signal }, 'stopping');
    o.beforeStop?.();
    Promise.all([o.worker.stop(), http.stop(), o.probe?.stop()])
      .then(async () => {
        await o.afterStop?.();
        process.exit(0);
      })
      .catch((err: unknown) => {
        o.logger.error({ code: (err as { code?: string }).code }, 'unclean stop');
        process.exit(1);
      });
  };
  // A worker that cannot go on fails /healthz first, then exits non-zero for its supervisor.
  o.worker.onFailed?.((err) => {
    if (stopping) return;
    stopping = true;
    o.logger.error({ code: (err as { code?: string }).code }, 'worker failed; exiting');
    void Promise.allSettled([o.worker.stop(), http.stop(), o.probe?.stop()])
      .then(async () => o.afterStop?.())
      .finally(() => process.exit(1));
  });
  // The handlers are in place before the ready line: a supervisor may send SIGTERM the moment it
  // reads it, and without a handler that would end the worker uncleanly (no final checkpoint).
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  o.logger.info({ port: http.port, ...o.startedFields?.() }, `${o.name} started`);
  process.stdout.write(`${o.name} ready port=${http.port} pid=${process.pid}\n`);
}

/** The worker's health and its broker probe's: ok only when both are; the facts of both. */
export function combinedHealth(
  worker: { health: HealthCheck },
  probe: { health: HealthCheck } | undefined,
): { ok: boolean; detail?: Record<string, unknown> } {
  const w = worker.health();
  if (probe === undefined) return w;
  const p = probe.health();
  return { ok: w.ok && p.ok, detail: { ...w.detail, ...p.detail } };
}
