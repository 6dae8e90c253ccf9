/**
 * `sealpost console`: the operator console (docs/CONSOLE.md) on its own port, over the same stores,
 * topics and functions as `sealpost quarantine` and `sealpost audit` — release is
 * `releaseQuarantined` signed by the operator identity as `quarantine release` signs it, verify is
 * `verifyConfiguredAuditLogs` as `audit verify` runs it. Off unless started; 127.0.0.1 unless
 * configured otherwise; every caller named in the tokens file.
 */
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Command } from 'commander';
import { readSecretFile, type SealpostConfig } from '../config/config.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { DEFAULT_RELEASE_VALID_FOR_MS } from '../dlq/release-signer.js';
import type { ExtraRoutes } from '../observability/health-server.js';
import { systemClock } from '../runtime/clock.js';
import { ConsoleAuth, parseConsoleCredentials } from '../console/console-auth.js';
import { createConsoleApp } from '../console/console-app.js';
import { ConsoleServer } from '../console/console-server.js';
import type { ConsoleServices } from '../console/console-services.js';
import { releaseQuarantined } from '../dlq/quarantine-release.js';
import type { QuarantineStore } from '../dlq/quarantine-store.js';
import { DEFAULT_MAX_RELEASE_LIFETIME_MS } from '../pipeline/consumer/release-admission.js';
import { createLogger } from '../observability/logger.js';
import { openAuditLogs } from './audit-logs.js';
import { verifyConfiguredAuditLogs } from './audit-verify.js';
import {
  badInput,
  cliContext,
  cliTransport,
  parseCount,
  parseDuration,
  withHints,
  type CliContext,
} from './cli-support.js';
import { kmsOption } from './keys-commands.js';
import type { CliIo } from './output.js';
import { openStore, withReleaseSigner } from './quarantine-commands.js';

/** Options of {@link consoleServices}. */
export interface ConsoleServiceOptions {
  /** How long a release may be accepted (as `quarantine release --valid-for`). */
  readonly releaseValidForMs: number;
  /** `audit verify`'s options. */
  readonly auditIdentity: string;
  readonly published: boolean;
  readonly checkpointTopic?: string;
  readonly verifyTimeoutMs: number;
  /** Where the health page reads metrics: worker `/metrics` URLs (http only), or a function. */
  readonly metricsUrls?: readonly string[];
  readonly metricsText?: () => Promise<string>;
}

/** The console's services over `store` and the configured audit logs (see the module comment). */
export function consoleServices(
  ctx: CliContext,
  store: QuarantineStore,
  o: ConsoleServiceOptions,
): ConsoleServices {
  return {
    quarantine: store,
    release: (id, operator) =>
      withHints(ctx.config, async () => {
        let out: Awaited<ReturnType<typeof releaseQuarantined>> | undefined;
        await withReleaseSigner(ctx, false, o.releaseValidForMs, async (signer) => {
          const producer = cliTransport(ctx, 'sealpost-console-release').producer();
          await producer.connect();
          try {
            out = await releaseQuarantined(store, producer, id, {
              ...(signer === undefined ? {} : { signer }),
              nowMs: ctx.clock.nowMs(),
              releasedBy: operator,
            });
          } finally {
            await producer.disconnect();
          }
        });
        return out!;
      }),
    withAuditLogs: async (body) => {
      const opened = await openAuditLogs(ctx);
      try {
        return await body(opened.logs);
      } finally {
        await opened.close();
      }
    },
    verifyAudit: () =>
      verifyConfiguredAuditLogs(ctx, {
        auditIdentity: o.auditIdentity,
        published: o.published,
        timeoutMs: o.verifyTimeoutMs,
        ...(o.checkpointTopic === undefined ? {} : { checkpointTopic: o.checkpointTopic }),
      }),
    metricsText: async () => {
      const parts = await Promise.all([
        o.metricsText?.() ?? Promise.resolve(''),
        ...(o.metricsUrls ?? []).map(scrape),
      ]);
      return parts.join('\n');
    },
  };
}

/** A worker's `/metrics` text, or '' when it does not answer within 5 s. */
function scrape(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpGet(url, { timeout: 5000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve('');
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => resolve(''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

/** The callers of the tokens file (SEALPOST_CONSOLE_TOKENS_FILE or --tokens-file; mode 0600). */
export function consoleAuthFrom(ctx: CliContext, tokensFile: string | undefined): ConsoleAuth {
  if (tokensFile === undefined)
    throw badInput(
      'the console needs its callers: set SEALPOST_CONSOLE_TOKENS_FILE or pass --tokens-file FILE (a JSON array of { "name", "role": "viewer"|"operator", "token" }, mode 0600; docs/CONSOLE.md)',
    );
  return new ConsoleAuth({
    credentials: parseConsoleCredentials(readSecretFile(ctx.path(tokensFile))),
    crypto: ctx.crypto,
    clock: ctx.clock,
  });
}

/**
 * The console on a worker's HTTP port under `/console` (SEALPOST_WORKER_CONSOLE=on; docs/CONSOLE.md):
 * over the worker's own quarantine store and metrics, with the configuration's tokens file, operator
 * identity (SEALPOST_IDENTITY_FILE signs releases) and audit logs; "verify now" checks the stores and
 * the published checkpoints.
 */
export async function workerConsoleRoutes(o: {
  readonly config: SealpostConfig;
  readonly crypto: CryptoProvider;
  readonly store: QuarantineStore;
  readonly metricsText: () => Promise<string>;
  readonly logger: Logger;
}): Promise<ExtraRoutes> {
  const ctx: CliContext = {
    config: o.config,
    crypto: o.crypto,
    clock: systemClock,
    path: (p) => resolve(p),
  };
  const auth = consoleAuthFrom(ctx, o.config.consoleTokensFile);
  const app = createConsoleApp({
    services: consoleServices(ctx, o.store, {
      releaseValidForMs: DEFAULT_RELEASE_VALID_FOR_MS,
      auditIdentity: 'audit',
      published: true,
      verifyTimeoutMs: 30_000,
      metricsText: o.metricsText,
    }),
    auth,
    clock: systemClock,
    logger: o.logger,
    basePath: WORKER_CONSOLE_PREFIX,
  });
  return Promise.resolve({
    prefix: WORKER_CONSOLE_PREFIX,
    handle: (req, res) => app.handle(req, res),
  });
}

/** Where a worker serves the console. */
export const WORKER_CONSOLE_PREFIX = '/console';

/** The HTTPS settings of the configuration (none when no certificate is configured). */
export function consoleTlsFrom(
  ctx: CliContext,
  files: { cert?: string; key?: string; clientCa?: string },
): { cert: string; key: string; clientCa?: string } | undefined {
  if (files.cert === undefined && files.key === undefined) {
    if (files.clientCa !== undefined)
      throw badInput(
        'a client CA needs HTTPS: set SEALPOST_CONSOLE_TLS_CERT_FILE and SEALPOST_CONSOLE_TLS_KEY_FILE too',
      );
    return undefined;
  }
  if (files.cert === undefined || files.key === undefined)
    throw badInput(
      'HTTPS needs both SEALPOST_CONSOLE_TLS_CERT_FILE and SEALPOST_CONSOLE_TLS_KEY_FILE (--tls-cert, --tls-key)',
    );
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(ctx.path(path), 'utf8');
    } catch {
      throw badInput(`${what}: cannot read ${path}`);
    }
  };
  return {
    cert: read(files.cert, 'console TLS certificate'),
    // The private key: by reference, mode 0600, never in a message.
    key: readSecretFile(ctx.path(files.key)),
    ...(files.clientCa === undefined
      ? {}
      : { clientCa: read(files.clientCa, 'console client CA') }),
  };
}

interface ConsoleOpts {
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  host?: string;
  port?: string;
  tokensFile?: string;
  metricsUrl: string[];
  identity?: string;
  kms?: string;
  validFor: string;
  auditIdentity: string;
  published: boolean;
  checkpointTopic?: string;
}

/** `{ [key]: value }`, or nothing when the value is undefined. */
function pick<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/** `sealpost console` */
export function registerConsoleCommand(program: Command, io: CliIo): void {
  program
    .command('console')
    .description(
      'Serve the operator console (quarantine, audit, health) in the browser until Ctrl-C: 127.0.0.1 unless --host, every caller authenticated by a token from SEALPOST_CONSOLE_TOKENS_FILE (docs/CONSOLE.md)',
    )
    .option('--host <host>', 'address to bind (default SEALPOST_CONSOLE_HOST, else 127.0.0.1)')
    .option('--port <n>', 'port (default SEALPOST_CONSOLE_PORT, else 8088; 0 picks a free one)')
    .option(
      '--tokens-file <path>',
      'callers and their tokens (default SEALPOST_CONSOLE_TOKENS_FILE): JSON [{ "name", "role": "viewer"|"operator", "token" }], mode 0600',
    )
    .option(
      '--tls-cert <path>',
      'serve HTTPS with this certificate (default SEALPOST_CONSOLE_TLS_CERT_FILE)',
    )
    .option(
      '--tls-key <path>',
      'its private key, mode 0600 (default SEALPOST_CONSOLE_TLS_KEY_FILE)',
    )
    .option(
      '--client-ca <path>',
      'require client certificates signed by this CA, callers named by CN in the tokens file (default SEALPOST_CONSOLE_CLIENT_CA_FILE)',
    )
    .option(
      '--metrics-url <url>',
      "a worker's /metrics for the health page (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option(
      '--identity <path>',
      'operator identity that signs releases (default SEALPOST_IDENTITY_FILE); the directory must grant it release=TOPIC',
    )
    .addOption(kmsOption())
    .option('--valid-for <duration>', 'how long a release may be accepted (max 7d)', '24h')
    .option('--audit-identity <name>', 'the audit identity whose key signs checkpoints', 'audit')
    .option(
      '--checkpoint-topic <topic>',
      'published checkpoints (default SEALPOST_CHECKPOINT_TOPIC)',
    )
    .option('--no-published', '"verify now" checks the stores alone (weaker; see `audit verify`)')
    .addHelpText(
      'after',
      '\nExample:\n  SEALPOST_CONSOLE_TOKENS_FILE=.sealpost/console-tokens.json sealpost console --metrics-url http://127.0.0.1:9464/metrics\n  # then open http://127.0.0.1:8088/ and log in with your token',
    )
    .action(async (opts: ConsoleOpts) => {
      const ctx = await cliContext(io, {
        SEALPOST_IDENTITY_FILE: opts.identity,
        SEALPOST_KMS: opts.kms,
      });
      const validForMs = parseDuration(opts.validFor, '--valid-for');
      if (validForMs > DEFAULT_MAX_RELEASE_LIFETIME_MS)
        throw badInput('--valid-for: at most 7d (consumers refuse longer releases)');
      for (const u of opts.metricsUrl)
        if (!/^http:\/\/[^\s/]+\/\S*$/.test(u))
          throw badInput(`--metrics-url: "${u}" is not an http:// URL`);
      const port =
        opts.port === undefined ? ctx.config.consolePort : parseCount(opts.port, '--port', 65535);
      const host = opts.host ?? ctx.config.consoleHost;
      const tls = consoleTlsFrom(ctx, {
        ...pick('cert', opts.tlsCert ?? ctx.config.consoleTlsCertFile),
        ...pick('key', opts.tlsKey ?? ctx.config.consoleTlsKeyFile),
        ...pick('clientCa', opts.clientCa ?? ctx.config.consoleClientCaFile),
      });
      const auth = consoleAuthFrom(ctx, opts.tokensFile ?? ctx.config.consoleTokensFile);
      const logger = createLogger({ level: ctx.config.logLevel, name: 'sealpost-console' });
      const store = await openStore(ctx);
      const server = new ConsoleServer({
        app: createConsoleApp({
          services: consoleServices(ctx, store, {
            releaseValidForMs: validForMs,
            auditIdentity: opts.auditIdentity,
            published: opts.published,
            verifyTimeoutMs: 30_000,
            metricsUrls: opts.metricsUrl,
            ...(opts.checkpointTopic === undefined
              ? {}
              : { checkpointTopic: opts.checkpointTopic }),
          }),
          auth,
          clock: ctx.clock,
          logger,
          secureCookie: tls !== undefined,
        }),
        port,
        host,
        ...(tls === undefined ? {} : { tls }),
      });
      try {
        await server.start();
        logger.info({ host, port: server.port }, 'sealpost console started');
        io.out(
          `sealpost console ready url=${tls === undefined ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${server.port}/ pid=${process.pid}\n`,
        );
        await new Promise<void>((resolve) => {
          if (io.signal === undefined || io.signal.aborted) return resolve();
          io.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        logger.info('sealpost console stopping');
      } finally {
        await server.stop();
        auth.close();
        await store.close();
      }
    });
}
