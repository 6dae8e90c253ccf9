/**
 * The console's request handler (docs/CONSOLE.md): routing, and the security every request passes
 * through — authentication (bearer token, or the session cookie the login form sets), the operator
 * role for release and purge, a CSRF token on every state change (and same-origin checks from the
 * browser's Origin and Sec-Fetch-Site headers), a strict Content-Security-Policy and the usual
 * headers on every response. Neither a token nor a session id is ever logged or rendered; URLs carry
 * only filters and entry ids.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, isSealpostError } from '../errors.js';
import type { Clock } from '../runtime/clock.js';
import { auditCheckpoints, auditEvents, auditVerify } from './audit-pages.js';
import type { ConsoleAuth, ConsoleCaller } from './console-auth.js';
import { CONSOLE_CSS, CONSOLE_ICON } from './console-css.js';
import type { ConsoleRequest, ConsoleResponse } from './console-request.js';
import type { ConsoleServices } from './console-services.js';
import { healthPage } from './health-page.js';
import { html, page, type Html, type PageContext } from './html.js';
import {
  quarantineConfirm,
  quarantineDetail,
  quarantineList,
  quarantinePurge,
  quarantineRelease,
} from './quarantine-pages.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'sealpost_console';
/** Largest form body read (a form here holds a token, a CSRF token and a confirmation). */
const MAX_FORM_BYTES = 16 * 1024;

/** Headers on every response. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin: other sites get no referrer, and a same-origin form POST keeps its Origin.
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

/** The static files (nothing in them is secret). */
const STATIC_ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  '/static/console.css': { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
  '/static/favicon.svg': { type: 'image/svg+xml', body: CONSOLE_ICON },
  '/favicon.ico': { type: 'image/svg+xml', body: CONSOLE_ICON },
};

export interface ConsoleAppOptions {
  readonly services: ConsoleServices;
  readonly auth: ConsoleAuth;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Path prefix ('' standalone; '/console' on a worker's HTTP server). */
  readonly basePath?: string;
  /** Mark the session cookie Secure (when served over TLS). */
  readonly secureCookie?: boolean;
}

type Route = {
  readonly method: 'GET' | 'POST';
  readonly pattern: RegExp;
  readonly operator?: boolean;
  readonly handle: (r: ConsoleRequest, ...params: string[]) => Promise<ConsoleResponse>;
};

const ROUTES: readonly Route[] = [
  { method: 'GET', pattern: /^\/quarantine$/, handle: quarantineList },
  { method: 'GET', pattern: /^\/quarantine\/(\d{1,16})$/, handle: quarantineDetail },
  {
    method: 'GET',
    pattern: /^\/quarantine\/(\d{1,16})\/release$/,
    operator: true,
    handle: (r, id) => quarantineConfirm(r, id, 'release'),
  },
  {
    method: 'GET',
    pattern: /^\/quarantine\/(\d{1,16})\/purge$/,
    operator: true,
    handle: (r, id) => quarantineConfirm(r, id, 'purge'),
  },
  {
    method: 'POST',
    pattern: /^\/quarantine\/(\d{1,16})\/release$/,
    operator: true,
    handle: (r, id) => quarantineRelease(r, id),
  },
  {
    method: 'POST',
    pattern: /^\/quarantine\/(\d{1,16})\/purge$/,
    operator: true,
    handle: (r, id) => quarantinePurge(r, id),
  },
  { method: 'GET', pattern: /^\/audit$/, handle: auditEvents },
  { method: 'GET', pattern: /^\/audit\/checkpoints$/, handle: auditCheckpoints },
  { method: 'POST', pattern: /^\/audit\/verify$/, handle: auditVerify },
  { method: 'GET', pattern: /^\/health$/, handle: healthPage },
];

/** Builds the handler; `handle` resolves once the response is sent (it never rejects). */
export function createConsoleApp(o: ConsoleAppOptions): {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
} {
  const base = o.basePath ?? '';
  const cookiePath = base === '' ? '/' : base;

  function send(
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'cache-control': 'no-store',
      'content-type': 'text/html; charset=utf-8',
      ...headers,
    });
    res.end(body);
  }

  function redirect(
    res: ServerResponse,
    location: string,
    headers: Record<string, string> = {},
  ): void {
    send(res, 303, '', { location, ...headers });
  }

  function messagePage(
    res: ServerResponse,
    ctx: PageContext,
    status: number,
    title: string,
    message: Html | string,
  ): void {
    send(res, status, page(ctx, title, html`<div class="banner bad">${message}</div>`).text);
  }

  function loginPage(res: ServerResponse, status: number, problem?: string): void {
    const ctx: PageContext = { base, caller: undefined, csrf: undefined };
    send(
      res,
      status,
      page(
        ctx,
        'Log in',
        html`${problem === undefined ? '' : html`<div class="banner bad">${problem}</div>`}
          <form class="login" method="post" action="${base}/login">
            <label for="token">Access token (from the console's tokens file)</label>
            <input
              id="token"
              name="token"
              type="password"
              autocomplete="off"
              required
              minlength="32"
            />
            <button type="submit" class="primary">Log in</button>
          </form>`,
      ).text,
    );
  }

  /**
   * Whether the browser says the request comes from another site: Sec-Fetch-Site when the browser
   * sends it (every current one does), else the Origin, which must be this host's.
   */
  function crossSite(req: IncomingMessage): boolean {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined) return site !== 'same-origin' && site !== 'none';
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const host = req.headers.host;
    return host === undefined || (origin !== `http://${host}` && origin !== `https://${host}`);
  }

  async function readForm(req: IncomingMessage): Promise<URLSearchParams | 'too-large' | 'type'> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      return 'type';
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_FORM_BYTES) {
        req.resume();
        return 'too-large';
      }
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  function cookieOf(req: IncomingMessage): string | undefined {
    const header = req.headers.cookie;
    if (header === undefined) return undefined;
    for (const part of header.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (k === SESSION_COOKIE) return v.join('=');
    }
    return undefined;
  }

  /** The caller of a client certificate the TLS handshake verified (served over TLS with a client CA). */
  function certificateCaller(req: IncomingMessage): ConsoleCaller | undefined {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function')
      return undefined;
    const cert = socket.getPeerCertificate();
    const cn: unknown = cert.subject?.CN;
    if (typeof cn !== 'string' || typeof cert.fingerprint256 !== 'string') return undefined;
    return o.auth.certificate(cn, cert.fingerprint256);
  }

  function authenticate(req: IncomingMessage): ConsoleCaller | undefined {
    return (
      certificateCaller(req) ??
      o.auth.bearer(req.headers.authorization) ??
      o.auth.session(cookieOf(req))
    );
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const method = req.method ?? 'GET';
    if (!url.pathname.startsWith(base)) return send(res, 404, 'not found');
    const path = url.pathname.slice(base.length) || '/';
    const anon: PageContext = { base, caller: undefined, csrf: undefined };

    // What is served before authentication: the stylesheet, the icon and the login form.
    const asset = STATIC_ASSETS[path];
    if (asset !== undefined && method === 'GET') {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': asset.type,
        'cache-control': 'public, max-age=3600',
      });
      res.end(asset.body);
      return;
    }
    if (path === '/login') {
      if (method === 'GET') return loginPage(res, 200);
      if (method !== 'POST') return send(res, 405, '', { allow: 'GET, POST' });
      if (crossSite(req)) {
        o.logger.warn({ path }, 'console: cross-site login refused');
        return messagePage(res, anon, 403, 'Refused', 'cross-site request refused');
      }
      const form = await readForm(req);
      if (typeof form === 'string') return loginPage(res, form === 'type' ? 415 : 413);
      const login = o.auth.login(form.get('token') ?? '');
      if (login === undefined) {
        o.logger.warn({ remote: req.socket.remoteAddress }, 'console: login refused');
        return loginPage(res, 401, 'That is not a valid token.');
      }
      o.logger.info({ caller: login.caller.name, role: login.caller.role }, 'console: login');
      return redirect(res, `${base}/quarantine`, {
        'set-cookie': `${SESSION_COOKIE}=${login.sessionId}; Path=${cookiePath}; HttpOnly; SameSite=Strict${o.secureCookie === true ? '; Secure' : ''}`,
      });
    }

    const caller = authenticate(req);
    if (caller === undefined) {
      o.logger.warn({ method, path }, 'console: unauthenticated request refused');
      const wantsHtml = method === 'GET' && (req.headers.accept ?? '').includes('text/html');
      if (wantsHtml) return redirect(res, `${base}/login`);
      return send(res, 401, 'authentication required', {
        'www-authenticate': 'Bearer realm="sealpost-console"',
        'content-type': 'text/plain; charset=utf-8',
      });
    }
    const ctx: PageContext = { base, caller, csrf: caller.csrf };

    let form = new URLSearchParams();
    if (method === 'POST') {
      if (crossSite(req)) {
        o.logger.warn({ caller: caller.name, path }, 'console: cross-site request refused');
        return messagePage(res, ctx, 403, 'Refused', 'cross-site request refused');
      }
      const read = await readForm(req);
      if (read === 'type')
        return messagePage(
          res,
          ctx,
          415,
          'Refused',
          'forms only (application/x-www-form-urlencoded)',
        );
      if (read === 'too-large') return messagePage(res, ctx, 413, 'Refused', 'form too large');
      form = read;
      // A browser (session cookie or client certificate, both sent by the browser on its own) must
      // prove the form came from a console page; a bearer caller sends no ambient credential.
      if (caller.via !== 'bearer' && !o.auth.csrfMatches(caller, form.get('csrf') ?? undefined)) {
        o.logger.warn({ caller: caller.name, path }, 'console: CSRF token missing or wrong');
        return messagePage(
          res,
          ctx,
          403,
          'Refused',
          'missing or stale form token: reload the page and try again',
        );
      }
    }

    if (path === '/') return redirect(res, `${base}/quarantine`);
    if (path === '/logout' && method === 'POST') {
      o.auth.logout(caller);
      o.logger.info({ caller: caller.name }, 'console: logout');
      return redirect(res, `${base}/login`, {
        'set-cookie': `${SESSION_COOKIE}=; Path=${cookiePath}; HttpOnly; SameSite=Strict; Max-Age=0`,
      });
    }

    for (const r of ROUTES) {
      const m = r.pattern.exec(path);
      if (m === null) continue;
      if (r.method !== method) continue;
      if (r.operator === true && caller.role !== 'operator') {
        o.logger.warn({ caller: caller.name, method, path }, 'console: operator role required');
        return messagePage(
          res,
          ctx,
          403,
          'Not allowed',
          `${caller.name} is read-only: this needs the operator role`,
        );
      }
      const request: ConsoleRequest = {
        page: ctx,
        caller,
        query: url.searchParams,
        form,
        services: o.services,
        clock: o.clock,
        logger: o.logger,
      };
      const out = await r.handle(request, ...m.slice(1));
      if (out.kind === 'redirect') return redirect(res, out.location);
      return send(res, out.status, out.html.text);
    }
    if (ROUTES.some((r) => r.pattern.test(path)))
      return send(res, 405, '', {
        allow: ROUTES.filter((r) => r.pattern.test(path))
          .map((r) => r.method)
          .join(', '),
      });
    return messagePage(res, ctx, 404, 'Not found', 'no such page');
  }

  return {
    async handle(req, res) {
      try {
        await route(req, res);
      } catch (err) {
        const ctx: PageContext = { base, caller: undefined, csrf: undefined };
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (err instanceof ConfigError)
          return messagePage(res, ctx, 400, 'Bad request', err.message);
        if (isSealpostError(err)) {
          o.logger.warn({ code: err.code }, 'console: request failed');
          return messagePage(
            res,
            ctx,
            err.retriable ? 503 : 500,
            'Failed',
            `${err.code}: ${err.message}`,
          );
        }
        o.logger.error({ code: (err as { code?: string }).code }, 'console: internal error');
        return messagePage(res, ctx, 500, 'Failed', 'internal error (see the console log)');
      }
    },
  };
}
