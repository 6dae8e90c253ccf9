/** One HTTP(S) request with node:http, so that no header is added behind the test's back. */
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request (node:http: no headers added behind the test's back). */
export function call(
  base: string,
  method: string,
  path: string,
  options: {
    readonly headers?: Record<string, string>;
    readonly form?: Record<string, string>;
    /** For https: the CA to trust, and the client certificate to present. */
    readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string };
  } = {},
): Promise<Reply> {
  const body =
    options.form === undefined ? undefined : new URLSearchParams(options.form).toString();
  const send = base.startsWith('https:') ? httpsRequest : request;
  return new Promise((resolve, reject) => {
    const req = send(
      `${base}${path}`,
      {
        ...(options.tls === undefined ? {} : options.tls),
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
