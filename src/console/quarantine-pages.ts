/**
 * The quarantine pages (docs/CONSOLE.md): the list with filters and keyset paging, arrivals by reason
 * over time, one entry's detail (its metadata and envelope structure as `sealpost quarantine show`
 * gives them — never decrypted), and release and purge, each behind a confirmation page.
 */
import { badInput, iso, parseCount, parseDuration } from '../cli/cli-support.js';
import { structureRows, viewEnvelope } from '../cli/inspect-commands.js';
import { entryMetadata } from '../cli/quarantine-commands.js';
import { isSealpostError } from '../errors.js';
import {
  QUARANTINE_REASONS,
  type QuarantineEntry,
  type QuarantineFilter,
  type QuarantineReason,
  type QuarantineStatus,
} from '../dlq/quarantine-store.js';
import type { ConsoleRequest, ConsoleResponse } from './console-request.js';
import { pageResponse } from './console-request.js';
import { csrfField, html, page, query, type Html } from './html.js';
import { arrivalsChart } from './svg-charts.js';

/** Entries per page. */
export const QUARANTINE_PAGE_SIZE = 50;

const WINDOWS: Readonly<Record<string, { buckets: number; bucketMs: number }>> = {
  '24h': { buckets: 24, bucketMs: 3_600_000 },
  '7d': { buckets: 28, bucketMs: 6 * 3_600_000 },
  '30d': { buckets: 30, bucketMs: 86_400_000 },
};

interface ListParams {
  readonly reason?: string;
  readonly topic?: string;
  readonly partition?: string;
  readonly older?: string;
  readonly status: string;
  readonly window: string;
}

function listParams(q: URLSearchParams): ListParams {
  const get = (k: string): string | undefined => {
    const v = q.get(k);
    return v === null || v.trim() === '' ? undefined : v.trim();
  };
  const status = get('status') ?? 'quarantined';
  if (!['quarantined', 'released', 'all'].includes(status))
    throw badInput('status: quarantined, released or all');
  const window = get('window') ?? '24h';
  if (WINDOWS[window] === undefined) throw badInput('window: 24h, 7d or 30d');
  const p: { -readonly [K in keyof ListParams]: ListParams[K] } = { status, window };
  const reason = get('reason');
  if (reason !== undefined) {
    if (!(QUARANTINE_REASONS as readonly string[]).includes(reason))
      throw badInput(`reason: one of ${QUARANTINE_REASONS.join(', ')}`);
    p.reason = reason;
  }
  const topic = get('topic');
  if (topic !== undefined) {
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic)) throw badInput('topic: not a Kafka topic name');
    p.topic = topic;
  }
  const partition = get('partition');
  if (partition !== undefined) p.partition = partition;
  const older = get('older');
  if (older !== undefined) p.older = older;
  return p;
}

function filterOf(p: ListParams, nowMs: number): QuarantineFilter {
  const f: { -readonly [K in keyof QuarantineFilter]: QuarantineFilter[K] } = {};
  if (p.reason !== undefined) f.reason = p.reason as QuarantineReason;
  if (p.topic !== undefined) f.sourceTopic = p.topic;
  if (p.partition !== undefined)
    f.sourcePartition = parseCount(p.partition, 'partition', 1_000_000);
  if (p.older !== undefined) f.arrivedBeforeMs = nowMs - parseDuration(p.older, 'older than');
  if (p.status !== 'all') f.status = p.status as QuarantineStatus;
  return f;
}

function ageText(ms: number): string {
  if (ms < 120_000) return `${Math.max(0, Math.floor(ms / 1000))}s`;
  if (ms < 7_200_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 172_800_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}

/** GET /quarantine */
export async function quarantineList(r: ConsoleRequest): Promise<ConsoleResponse> {
  const p = listParams(r.query);
  const now = r.clock.nowMs();
  const filter = filterOf(p, now);
  const afterText = r.query.get('after');
  const afterId =
    afterText === null || afterText === '' ? undefined : parseCount(afterText, 'after', 2 ** 53);
  const store = r.services.quarantine;
  const win = WINDOWS[p.window]!;
  // The chart's buckets end with the current one.
  const fromMs = (Math.floor(now / win.bucketMs) - win.buckets + 1) * win.bucketMs;
  const [found, counts, oldest, totals, arrivals] = await Promise.all([
    store.list({
      ...filter,
      ...(afterId === undefined ? {} : { afterId }),
      limit: QUARANTINE_PAGE_SIZE + 1,
    }),
    store.countsByReason(),
    store.oldestArrivalMs(),
    store.totals(),
    store.arrivalsByReason({ fromMs, bucketMs: win.bucketMs }),
  ]);
  const entries = found.slice(0, QUARANTINE_PAGE_SIZE);
  const base = r.page.base;
  const keep = {
    reason: p.reason,
    topic: p.topic,
    partition: p.partition,
    older: p.older,
    status: p.status === 'quarantined' ? undefined : p.status,
    window: p.window === '24h' ? undefined : p.window,
  };
  const next =
    found.length > QUARANTINE_PAGE_SIZE
      ? `${base}/quarantine${query({ ...keep, after: entries[entries.length - 1]!.id })}`
      : undefined;
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const reasons = QUARANTINE_REASONS.filter(
    (x) => (counts[x] ?? 0) > 0 || arrivals.some((a) => a.reason === x),
  );
  const body = html` <section>
      <p>
        ${total} entries
        quarantined${
          oldest === null ? '' : html`, the oldest arrived ${ageText(now - oldest)} ago`
        };
        ${totals.released} released and ${totals.purged} purged over the store's life.
      </p>
      <table class="counts">
        <thead>
          <tr>
            ${QUARANTINE_REASONS.map((x) => html`<th class="num">${x}</th>`)}
          </tr>
        </thead>
        <tbody>
          <tr>
            ${QUARANTINE_REASONS.map((x) => html`<td class="num">${counts[x] ?? 0}</td>`)}
          </tr>
        </tbody>
      </table>
      <h2>
        Arrivals by reason (${p.window}, per
        ${win.bucketMs >= 86_400_000 ? 'day' : `${win.bucketMs / 3_600_000} h`})
      </h2>
      ${arrivalsChart({ fromMs, bucketMs: win.bucketMs, buckets: win.buckets, reasons: reasons.length > 0 ? reasons : QUARANTINE_REASONS, counts: arrivals })}
      <p class="muted">
        ${Object.keys(WINDOWS).map((w) => html`<a href="${base}/quarantine${query({ ...keep, window: w === '24h' ? undefined : w })}">${w}</a> `)}
      </p>
    </section>
    <h2>Entries</h2>
    <form class="filters" method="get" action="${base}/quarantine">
      <label
        >Reason<select name="reason">
          <option value="">any</option>
          ${QUARANTINE_REASONS.map(
            (x) => html`<option${x === p.reason ? html` selected` : ''}>${x}</option>`,
          )}
        </select></label
      >
      <label>Topic<input name="topic" value="${p.topic ?? ''}" size="18" /></label>
      <label
        >Partition<input name="partition" value="${p.partition ?? ''}" size="5" inputmode="numeric"
      /></label>
      <label
        >Older than<input name="older" value="${p.older ?? ''}" size="6" placeholder="1h, 7d"
      /></label>
      <label
        >Status<select name="status">
          ${['quarantined', 'released', 'all'].map(
            (x) => html`<option${x === p.status ? html` selected` : ''}>${x}</option>`,
          )}
        </select></label
      >
      <button type="submit" class="primary">Filter</button>
      <a href="${base}/quarantine">Clear</a>
    </form>
    ${
      entries.length === 0
        ? html`<p class="muted">No entries match.</p>`
        : html`<table class="entries">
            <thead>
              <tr>
                <th class="num">id</th>
                <th>reason</th>
                <th>status</th>
                <th>topic</th>
                <th class="num">partition</th>
                <th class="num">offset</th>
                <th>group</th>
                <th class="num">attempt</th>
                <th>verified</th>
                <th class="num">bytes</th>
                <th>arrived</th>
                <th class="num">age</th>
              </tr>
            </thead>
            <tbody>
              ${entries.map((e) => entryRow(r, e, now))}
            </tbody>
          </table>`
    }
    <p class="pager">
      ${afterId === undefined ? '' : html`<a href="${base}/quarantine${query(keep)}">« First page</a>`}${
        next === undefined ? '' : html`<a rel="next" href="${next}">Next page »</a>`
      }
    </p>`;
  return pageResponse(page(r.page, 'Quarantine', body));
}

function entryRow(r: ConsoleRequest, e: QuarantineEntry, now: number): Html {
  return html`<tr>
    <td class="num"><a href="${r.page.base}/quarantine/${e.id}">${e.id}</a></td>
    <td><span class="swatch r-${e.reason}"></span>${e.reason}</td>
    <td>
      ${e.status}${
        e.requarantinedFrom === null
          ? ''
          : html` <span class="warn" title="requarantined from ${e.requarantinedFrom}">↺</span>`
      }
    </td>
    <td>${e.sourceTopic ?? ''}</td>
    <td class="num">${e.sourcePartition ?? ''}</td>
    <td class="num">${e.sourceOffset ?? ''}</td>
    <td>${e.consumerGroup ?? ''}</td>
    <td class="num">${e.attempt ?? ''}</td>
    <td>${e.signatureVerified ? 'yes' : html`<span class="bad">no</span>`}</td>
    <td class="num">${e.value === null ? '' : e.value.length}</td>
    <td>${iso(e.arrivedAtMs).slice(0, 19).replace('T', ' ')}</td>
    <td class="num">${ageText(now - e.arrivedAtMs)}</td>
  </tr> `;
}

function kv(rows: readonly (readonly [string, unknown])[]): Html {
  return html`<table class="kv">
    <tbody>
      ${rows.map(
        ([k, v]) =>
          html`<tr>
            <th>${k}</th>
            <td class="mono">
              ${
                v === null || v === undefined
                  ? ''
                  : typeof v === 'object'
                    ? JSON.stringify(v)
                    : String(v as string | number | boolean)
              }
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

async function entryOr404(r: ConsoleRequest, idText: string): Promise<QuarantineEntry> {
  const id = parseCount(idText, 'entry id', 2 ** 53);
  const e = await r.services.quarantine.get(id);
  if (e === undefined) throw badInput(`no quarantine entry ${id}`);
  return e;
}

/** GET /quarantine/:id */
export async function quarantineDetail(
  r: ConsoleRequest,
  idText: string,
): Promise<ConsoleResponse> {
  const e = await entryOr404(r, idText);
  const meta = entryMetadata(e);
  const view = viewEnvelope(e.value);
  const base = r.page.base;
  const operator = r.caller.role === 'operator';
  const s = view.envelope ? view.structure : undefined;
  const body = html` <p><a href="${base}/quarantine">« Quarantine</a></p>
    ${
      operator && e.status === 'quarantined'
        ? html`<div class="actions">
            <a href="${base}/quarantine/${e.id}/release"
              ><button type="button" class="primary">Release…</button></a
            ><a href="${base}/quarantine/${e.id}/purge"
              ><button type="button" class="danger">Purge…</button></a
            >
          </div>`
        : operator
          ? html`<div class="actions">
              <a href="${base}/quarantine/${e.id}/purge"
                ><button type="button" class="danger">Purge…</button></a
              >
            </div>`
          : html`<p class="muted">Read-only: release and purge need the operator role.</p>`
    }
    <h2>Dead letter</h2>
    ${kv(Object.entries(meta))}
    <h2>Envelope structure</h2>
    ${
      s === undefined
        ? html`<p class="bad">${view.envelope ? '' : view.reason}</p>`
        : kv(structureRows(s))
    }
    <p class="muted">
      Nothing here is decrypted: the structure is read from the sealed bytes (docs/SPEC.md), header
      values and record key are shown by size only.
    </p>`;
  return pageResponse(page(r.page, `Quarantine entry ${e.id}`, body));
}

/** GET /quarantine/:id/(release|purge): the confirmation step. */
export async function quarantineConfirm(
  r: ConsoleRequest,
  idText: string,
  action: 'release' | 'purge',
): Promise<ConsoleResponse> {
  const e = await entryOr404(r, idText);
  const base = r.page.base;
  const what =
    action === 'release'
      ? html`<p>
          Publish entry ${e.id}'s original sealed record to
          <code>${e.sourceTopic ?? '(no source topic)'}</code> partition ${e.sourcePartition ?? '?'}
          in a release signed by the console's operator identity (docs/SPEC.md §11), for consumer
          group <code>${e.consumerGroup ?? '(none)'}</code>. It is recorded as released by
          <strong>${r.caller.name}</strong>.
        </p>`
      : html`<p>
          Delete entry ${e.id} (${e.reason}, ${e.sourceTopic ?? 'no source'}) and its bytes from the
          quarantine store. This cannot be undone.
        </p>`;
  const body = html`${what}
    <form method="post" action="${base}/quarantine/${e.id}/${action}" class="actions">
      ${csrfField(r.page)}
      <button
        type="submit"
        class="${action === 'release' ? 'primary' : 'danger'}"
        name="confirm"
        value="yes"
      >
        Confirm ${action}
      </button>
      <a href="${base}/quarantine/${e.id}">Cancel</a>
    </form>`;
  return pageResponse(
    page(r.page, `${action === 'release' ? 'Release' : 'Purge'} entry ${e.id}?`, body),
  );
}

/** POST /quarantine/:id/release (operator; CSRF checked by the app). */
export async function quarantineRelease(
  r: ConsoleRequest,
  idText: string,
): Promise<ConsoleResponse> {
  const id = parseCount(idText, 'entry id', 2 ** 53);
  if (r.form.get('confirm') !== 'yes') throw badInput('release: confirm on the confirmation page');
  let banner: Html;
  let status = 200;
  try {
    const result = await r.services.release(id, r.caller.name);
    r.logger.info(
      {
        operator: r.caller.name,
        action: 'release',
        entry: id,
        outcome: result.outcome,
        topic: result.topic,
        partition: result.partition,
        group: result.group,
      },
      'console: quarantine release',
    );
    banner = html`<div class="banner ok">
      <span class="ok">${result.outcome === 'released' ? 'Released' : 'Already released'}</span>:
      entry ${id} to ${result.topic} partition ${result.partition} for group ${result.group}.
    </div>`;
  } catch (err) {
    if (!(isSealpostError(err) && err.code.startsWith('QUARANTINE_'))) throw err;
    r.logger.warn(
      { operator: r.caller.name, action: 'release', entry: id, code: err.code },
      'console: quarantine release refused',
    );
    status = 409;
    banner = html`<div class="banner bad">
      <span class="bad">Refused (${err.code})</span>: ${err.message}
    </div>`;
  }
  const body = html`${banner}
    <p>
      <a href="${r.page.base}/quarantine/${id}">Entry ${id}</a> ·
      <a href="${r.page.base}/quarantine">Quarantine</a>
    </p>`;
  return pageResponse(page(r.page, `Release entry ${id}`, body), status);
}

/** POST /quarantine/:id/purge (operator; CSRF checked by the app). */
export async function quarantinePurge(r: ConsoleRequest, idText: string): Promise<ConsoleResponse> {
  const id = parseCount(idText, 'entry id', 2 ** 53);
  if (r.form.get('confirm') !== 'yes') throw badInput('purge: confirm on the confirmation page');
  const purged = await r.services.quarantine.purge([id]);
  r.logger.info(
    { operator: r.caller.name, action: 'purge', entry: id, purged },
    'console: quarantine purge',
  );
  const body = html`<div class="banner ${purged === 1 ? 'ok' : 'bad'}">
      ${
        purged === 1
          ? html`<span class="ok">Purged</span> entry ${id}.`
          : html`Entry ${id} was not in the store (purged already?).`
      }
    </div>
    <p><a href="${r.page.base}/quarantine">Quarantine</a></p>`;
  return pageResponse(page(r.page, `Purge entry ${id}`, body));
}
