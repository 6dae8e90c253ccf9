/**
 * What a console page handler gets and gives back: the parsed request (caller, query, form) and a
 * rendered page or a redirect. Bad input is a ConfigError (ARGUMENT_INVALID), as in the CLI: a 400
 * page naming it.
 */
import type { Clock } from '../runtime/clock.js';
import type { ConsoleCaller } from './console-auth.js';
import type { ConsoleServices } from './console-services.js';
import type { Html, PageContext } from './html.js';
import type { Logger } from 'pino';

export interface ConsoleRequest {
  readonly page: PageContext;
  readonly caller: ConsoleCaller;
  readonly query: URLSearchParams;
  /** The form fields of a POST (empty for GET). */
  readonly form: URLSearchParams;
  readonly services: ConsoleServices;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type ConsoleResponse =
  | { readonly kind: 'page'; readonly status: number; readonly html: Html }
  | { readonly kind: 'redirect'; readonly location: string };

export const pageResponse = (html: Html, status = 200): ConsoleResponse => ({
  kind: 'page',
  status,
  html,
});
