/**
 * Server-side HTML for the console (docs/CONSOLE.md): a tagged template that escapes every value it
 * interpolates unless it is already {@link Html}, and the page layout. No inline script or style: the
 * one stylesheet is served by the console (`/static/console.css`) under a strict Content-Security-Policy.
 */

/** Markup that is already safe (built by {@link html}). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text made safe for element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

type Part = Html | string | number | boolean | null | undefined | readonly Part[];

function render(value: Part): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as readonly Part[]).map(render).join('');
  return escapeHtml(String(value));
}

/** `html\`<p>${text}</p>\``: every interpolation escaped, arrays joined, null/undefined/false empty. */
export function html(strings: TemplateStringsArray, ...values: readonly Part[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

/** A query string from parameters (empty values left out), for links. */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** Who is looking at a page, and what the layout needs to render its forms. */
export interface PageContext {
  /** Path prefix of every console URL ('' standalone, '/console' on a worker's HTTP server). */
  readonly base: string;
  readonly caller: { readonly name: string; readonly role: string } | undefined;
  /** The session's CSRF token for forms (absent for bearer callers and before login). */
  readonly csrf: string | undefined;
}

/** The hidden CSRF field every state-changing form carries. */
export function csrfField(ctx: PageContext): Html {
  return ctx.csrf === undefined
    ? html``
    : html`<input type="hidden" name="csrf" value="${ctx.csrf}" />`;
}

/** A whole page: header with navigation and the caller, then `body`. */
export function page(ctx: PageContext, title: string, body: Html): Html {
  const nav: [string, string][] = [
    ['Quarantine', '/quarantine'],
    ['Audit', '/audit'],
    ['Checkpoints', '/audit/checkpoints'],
    ['Health', '/health'],
  ];
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · sealpost console</title>
        <link rel="stylesheet" href="${ctx.base}/static/console.css" />
        <link rel="icon" type="image/svg+xml" href="${ctx.base}/static/favicon.svg" />
      </head>
      <body>
        <header>
          <span class="brand">sealpost console</span>
          ${
            ctx.caller === undefined
              ? html``
              : html`<nav>
                    ${nav.map(([label, path]) => html`<a href="${ctx.base}${path}">${label}</a>`)}
                  </nav>
                  <form class="who" method="post" action="${ctx.base}/logout">
                    ${csrfField(ctx)}<span>${ctx.caller.name} (${ctx.caller.role})</span>
                    <button type="submit">Log out</button>
                  </form>`
          }
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html> `;
}
