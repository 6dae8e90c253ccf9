/**
 * Who may use the console (docs/CONSOLE.md). Callers authenticate with a bearer token from the
 * callers file (`Authorization: Bearer …`), or — in a browser — exchange it once on the login form for
 * a session cookie (HttpOnly, SameSite=Strict), or, when the console serves TLS with a client CA,
 * with a client certificate whose subject CN the file names. Tokens are kept only as SHA-256 digests
 * and compared in constant time against every configured one; each session, and each certificate,
 * has its own CSRF token. A caller is a `viewer` (read only) or an `operator` (may release and purge).
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { CryptoProvider } from '../crypto/provider.js';
import { sha256Into } from '../crypto/sha256.js';
import { ConfigError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';

export type ConsoleRole = 'viewer' | 'operator';

/**
 * One configured caller: a name (recorded with what it does), a role, and its secret token and/or
 * the subject CN of its client certificate.
 */
export interface ConsoleCredential {
  readonly name: string;
  readonly role: ConsoleRole;
  readonly token?: string;
  readonly clientCertificateCn?: string;
}

/** An authenticated caller. */
export interface ConsoleCaller {
  readonly name: string;
  readonly role: ConsoleRole;
  /** How it authenticated: a bearer token on this request, a session cookie, a client certificate. */
  readonly via: 'bearer' | 'session' | 'certificate';
  /** The session (its id digest, hex), for a session caller. */
  readonly session?: { readonly id: string };
  /**
   * The CSRF token its forms carry: a session's own, or one derived from the certificate. Absent for a
   * bearer caller (the browser never sends a bearer token by itself).
   */
  readonly csrf?: string;
}

/** Shortest token accepted: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 32;

const credentialsSchema = z
  .array(
    z
      .object({
        name: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'use 1-64 of A-Z a-z 0-9 . _ @ -'),
        role: z.enum(['viewer', 'operator']),
        token: z
          .string()
          .min(MIN_TOKEN_LENGTH, `must be at least ${MIN_TOKEN_LENGTH} characters`)
          .max(512)
          .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
          .optional(),
        clientCertificateCn: z.string().min(1).max(64).optional(),
      })
      .strict()
      .refine((c) => c.token !== undefined || c.clientCertificateCn !== undefined, {
        message: 'needs a token or a clientCertificateCn',
      }),
  )
  .min(1, 'needs at least one caller');

/**
 * Parses the tokens file's content: a JSON array of `{ "name", "role": "viewer"|"operator", "token" }`.
 * Problems name the entry, never the token.
 */
export function parseConsoleCredentials(text: string): ConsoleCredential[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError('CONFIG_INVALID', 'console tokens file: not JSON');
  }
  const parsed = credentialsSchema.safeParse(json);
  if (!parsed.success)
    throw new ConfigError(
      'CONFIG_INVALID',
      `console tokens file: ${parsed.error.issues.map((i) => `${i.path.filter((p) => p !== 'token').join('.') || '(file)'}: ${i.message}`).join('; ')}`,
    );
  const names = new Set<string>();
  const tokens = new Set<string>();
  const cns = new Set<string>();
  for (const c of parsed.data) {
    if (names.has(c.name))
      throw new ConfigError('CONFIG_INVALID', `console tokens file: name ${c.name} appears twice`);
    if (c.token !== undefined && tokens.has(c.token))
      throw new ConfigError('CONFIG_INVALID', `console tokens file: two callers share a token`);
    if (c.clientCertificateCn !== undefined && cns.has(c.clientCertificateCn))
      throw new ConfigError(
        'CONFIG_INVALID',
        `console tokens file: two callers share the certificate CN ${c.clientCertificateCn}`,
      );
    names.add(c.name);
    if (c.token !== undefined) tokens.add(c.token);
    if (c.clientCertificateCn !== undefined) cns.add(c.clientCertificateCn);
  }
  return parsed.data.map((c) => ({
    name: c.name,
    role: c.role,
    ...(c.token === undefined ? {} : { token: c.token }),
    ...(c.clientCertificateCn === undefined ? {} : { clientCertificateCn: c.clientCertificateCn }),
  }));
}

interface Session {
  readonly name: string;
  readonly role: ConsoleRole;
  readonly csrf: string;
  readonly expiresAtMs: number;
}

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/** See the module comment. */
export class ConsoleAuth {
  readonly #crypto: CryptoProvider;
  readonly #clock: Clock;
  readonly #sessionTtlMs: number;
  readonly #callers: { name: string; role: ConsoleRole; digest: Uint8Array }[];
  readonly #byCertificateCn: ReadonlyMap<string, { name: string; role: ConsoleRole }>;
  /** Keys the certificate callers' CSRF tokens (random per process). */
  readonly #csrfKey: Uint8Array;
  /** By the SHA-256 of the session id (hex): the id itself is not kept. */
  readonly #sessions = new Map<string, Session>();

  constructor(options: {
    readonly credentials: readonly ConsoleCredential[];
    readonly crypto: CryptoProvider;
    readonly clock: Clock;
    /** How long a browser session lasts (default 8 h). */
    readonly sessionTtlMs?: number;
  }) {
    this.#crypto = options.crypto;
    this.#clock = options.clock;
    this.#sessionTtlMs = options.sessionTtlMs ?? 8 * 3_600_000;
    this.#callers = options.credentials.flatMap((c) =>
      c.token === undefined ? [] : [{ name: c.name, role: c.role, digest: digest(c.token) }],
    );
    this.#byCertificateCn = new Map(
      options.credentials.flatMap((c) =>
        c.clientCertificateCn === undefined
          ? []
          : [[c.clientCertificateCn, { name: c.name, role: c.role }] as const],
      ),
    );
    this.#csrfKey = options.crypto.randomBytes(32);
  }

  /**
   * The caller of a client certificate the TLS layer verified against the client CA, by its subject
   * CN; `fingerprint` (its SHA-256) keys the caller's CSRF token.
   */
  certificate(cn: string, fingerprint: string): ConsoleCaller | undefined {
    const c = this.#byCertificateCn.get(cn);
    if (c === undefined) return undefined;
    const csrf = createHmac('sha256', this.#csrfKey).update(fingerprint).digest('base64url');
    return { ...c, via: 'certificate', csrf };
  }

  /** The caller whose token this is, comparing in constant time against every configured token. */
  byToken(token: string): { name: string; role: ConsoleRole } | undefined {
    if (token.length === 0 || token.length > 512) return undefined;
    const d = digest(token);
    let found: { name: string; role: ConsoleRole } | undefined;
    for (const c of this.#callers) {
      // Every digest is compared: the time does not tell which one matched.
      if (this.#crypto.equalConstantTime(c.digest, d) && found === undefined)
        found = { name: c.name, role: c.role };
    }
    d.fill(0);
    return found;
  }

  /** The caller of an `Authorization: Bearer …` header value. */
  bearer(header: string | undefined): ConsoleCaller | undefined {
    if (header === undefined) return undefined;
    const m = /^Bearer ([\x21-\x7e]+)$/.exec(header);
    if (m === null) return undefined;
    const c = this.byToken(m[1]!);
    return c === undefined ? undefined : { ...c, via: 'bearer' };
  }

  /** Exchanges a token for a new session: its id (the cookie value) and CSRF token. */
  login(token: string): { sessionId: string; caller: ConsoleCaller } | undefined {
    const c = this.byToken(token);
    if (c === undefined) return undefined;
    this.#sweep();
    const sessionId = b64url(this.#crypto.randomBytes(32));
    const csrf = b64url(this.#crypto.randomBytes(32));
    const id = sessionKey(sessionId);
    this.#sessions.set(id, { ...c, csrf, expiresAtMs: this.#clock.nowMs() + this.#sessionTtlMs });
    return { sessionId, caller: { ...c, via: 'session', session: { id }, csrf } };
  }

  /** The caller of a session id (from the cookie), while the session lasts. */
  session(sessionId: string | undefined): ConsoleCaller | undefined {
    if (sessionId === undefined || !/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return undefined;
    const id = sessionKey(sessionId);
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    if (s.expiresAtMs <= this.#clock.nowMs()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return { name: s.name, role: s.role, via: 'session', session: { id }, csrf: s.csrf };
  }

  /** Whether `given` is the caller's CSRF token (constant time). */
  csrfMatches(caller: ConsoleCaller, given: string | undefined): boolean {
    if (caller.csrf === undefined || given === undefined) return false;
    const a = Buffer.from(caller.csrf);
    const b = Buffer.from(given);
    return a.length === b.length && this.#crypto.equalConstantTime(a, b);
  }

  logout(caller: ConsoleCaller): void {
    if (caller.session !== undefined) this.#sessions.delete(caller.session.id);
  }

  /** Forgets every session and zeroes the token digests. */
  close(): void {
    this.#sessions.clear();
    for (const c of this.#callers) c.digest.fill(0);
    this.#csrfKey.fill(0);
  }

  #sweep(): void {
    const now = this.#clock.nowMs();
    for (const [id, s] of this.#sessions) if (s.expiresAtMs <= now) this.#sessions.delete(id);
  }
}

function digest(text: string): Uint8Array {
  const out = new Uint8Array(32);
  sha256Into(out, Buffer.from(text, 'utf8'));
  return out;
}

function sessionKey(sessionId: string): string {
  return Buffer.from(digest(sessionId)).toString('hex');
}
