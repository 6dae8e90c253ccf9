/**
 * A private, throw-away OpenBao dev server for tests that must stop OpenBao (the shared stack one is
 * never stopped), plus a small admin client (root token) for setting up keys, policies and AppRoles.
 * The binary: env BAO_BIN, else `.stack/openbao/venv/bin/bao`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One HTTP(S) request (fetch cannot take a private CA); resolves with status and body text. */
export function httpCall(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    ca?: string;
    timeoutMs?: number;
  } = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        timeout: options.timeoutMs ?? 10_000,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** Path of the `bao` binary. */
export function baoBinary(): string {
  const fromEnv = process.env.BAO_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const local = join(import.meta.dirname, '..', '..', '.stack', 'openbao', 'venv', 'bin', 'bao');
  if (!existsSync(local))
    throw new Error(`no bao binary at ${local}: run \`npm run stack -- up\` or set BAO_BIN`);
  return local;
}

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Admin calls with a token (root in tests). Throws on non-2xx with the status (never the token). */
export class BaoAdmin {
  constructor(
    readonly addr: string,
    readonly token: string,
    /** PEM of the CA for an https address. */
    readonly ca?: string,
  ) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin JSON, read ad hoc by tests
  ): Promise<any> {
    const res = await httpCall(`${this.addr}/v1/${path}`, {
      method,
      headers: { 'X-Vault-Token': this.token, 'Content-Type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(this.ca === undefined ? {} : { ca: this.ca }),
    });
    if (res.status >= 300)
      throw new Error(
        `OpenBao ${method} ${path} answered HTTP ${res.status}: ${res.text.slice(0, 200)}`,
      );
    return res.text === '' ? undefined : JSON.parse(res.text);
  }

  /** Mounts Transit at `path` unless it is mounted. */
  async ensureTransit(path = 'transit', headers: Record<string, string> = {}): Promise<void> {
    const mounts = await this.call('GET', 'sys/mounts', undefined, headers);
    if (mounts?.data?.[`${path}/`] === undefined && mounts?.[`${path}/`] === undefined) {
      await this.call('POST', `sys/mounts/${path}`, { type: 'transit' }, headers);
    }
  }

  async ensureAppRole(): Promise<void> {
    const auths = await this.call('GET', 'sys/auth');
    if (auths?.data?.['approle/'] === undefined && auths?.['approle/'] === undefined) {
      await this.call('POST', 'sys/auth/approle', { type: 'approle' });
    }
  }

  async createTransitKey(
    name: string,
    mount = 'transit',
    headers: Record<string, string> = {},
  ): Promise<void> {
    await this.call('POST', `${mount}/keys/${name}`, {}, headers);
  }

  /** A policy allowing encrypt/decrypt/rewrap/read on one Transit key only. */
  async putKeyPolicy(policy: string, keyName: string, mount = 'transit'): Promise<void> {
    const hcl = [
      `path "${mount}/encrypt/${keyName}" { capabilities = ["update"] }`,
      `path "${mount}/decrypt/${keyName}" { capabilities = ["update"] }`,
      `path "${mount}/rewrap/${keyName}" { capabilities = ["update"] }`,
      `path "${mount}/keys/${keyName}" { capabilities = ["read"] }`,
    ].join('\n');
    await this.call('PUT', `sys/policies/acl/${policy}`, { policy: hcl });
  }

  /** Creates an AppRole bound to `policies`; returns its role id and a fresh secret id. */
  async createAppRole(
    role: string,
    policies: string[],
    opts: { tokenTtl?: string; tokenMaxTtl?: string } = {},
  ): Promise<{ roleId: string; secretId: string }> {
    await this.call('POST', `auth/approle/role/${role}`, {
      token_policies: policies,
      ...(opts.tokenTtl === undefined ? {} : { token_ttl: opts.tokenTtl }),
      ...(opts.tokenMaxTtl === undefined ? {} : { token_max_ttl: opts.tokenMaxTtl }),
    });
    const roleId = (await this.call('GET', `auth/approle/role/${role}/role-id`)).data
      .role_id as string;
    const secretId = (await this.call('POST', `auth/approle/role/${role}/secret-id`, {})).data
      .secret_id as string;
    return { roleId, secretId };
  }

  /** Creates a child token with the given policies and TTL. */
  async createToken(
    policies: string[],
    ttl: string,
    opts: { explicitMaxTtl?: string; renewable?: boolean } = {},
  ): Promise<string> {
    const res = await this.call('POST', 'auth/token/create', {
      policies,
      ttl,
      renewable: opts.renewable ?? true,
      ...(opts.explicitMaxTtl === undefined ? {} : { explicit_max_ttl: opts.explicitMaxTtl }),
    });
    return res.auth.client_token as string;
  }

  /** The token's remaining TTL in seconds (lookup-self with the token itself). */
  async tokenTtl(token: string): Promise<number> {
    const res = await httpCall(`${this.addr}/v1/auth/token/lookup-self`, {
      headers: { 'X-Vault-Token': token },
      ...(this.ca === undefined ? {} : { ca: this.ca }),
    });
    if (res.status !== 200) return -1;
    return (JSON.parse(res.text) as { data: { ttl: number } }).data.ttl;
  }
}

/** A private `bao server -dev` on a free port, killed by `stop()` (by its pid only). */
export class OpenBaoProcess {
  private constructor(
    readonly addr: string,
    readonly rootToken: string,
    private readonly child: ChildProcess,
    /** With `tls`: the generated CA (PEM file path) and the folder holding it. */
    readonly caFile: string | undefined,
    private readonly certDir: string | undefined,
  ) {}

  get admin(): BaoAdmin {
    return new BaoAdmin(
      this.addr,
      this.rootToken,
      this.caFile === undefined ? undefined : readFileSync(this.caFile, 'utf8'),
    );
  }

  /** Starts a dev server; with `tls`, `-dev-tls` (generated CA at `caFile`, https address). */
  static async start(options: { tls?: boolean } = {}): Promise<OpenBaoProcess> {
    const port = await freePort();
    const rootToken = randomBytes(16).toString('hex');
    const certDir =
      options.tls === true ? mkdtempSync(join(tmpdir(), 'sealpost-bao-tls-')) : undefined;
    const args = ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'];
    if (certDir !== undefined) args.push('-dev-tls', `-dev-tls-cert-dir=${certDir}`);
    const child = spawn(baoBinary(), args, {
      env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: rootToken, VAULT_DEV_ROOT_TOKEN_ID: rootToken },
      stdio: 'ignore',
    });
    const addr = `${certDir === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
    const caFile = certDir === undefined ? undefined : join(certDir, 'vault-ca.pem');
    const proc = new OpenBaoProcess(addr, rootToken, child, caFile, certDir);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`bao server exited with ${child.exitCode}`);
      try {
        const ca =
          caFile !== undefined && existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined;
        if (caFile === undefined || ca !== undefined) {
          const res = await httpCall(`${addr}/v1/sys/health`, {
            timeoutMs: 1000,
            ...(ca === undefined ? {} : { ca }),
          });
          if (res.status === 200) break;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error('private OpenBao did not become ready within 20 s');
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await proc.admin.ensureTransit();
    return proc;
  }

  /** Kills the server (SIGKILL: an abrupt outage) and waits for it to exit; removes generated certs. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGKILL');
      await exited;
    }
    if (this.certDir !== undefined) rmSync(this.certDir, { recursive: true, force: true });
  }
}
