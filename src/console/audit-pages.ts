/**
 * The audit pages (docs/CONSOLE.md): events queried as `sealpost audit query` queries them (sender,
 * type, topic, message id, time), the checkpoints of every log as a timeline, and "verify now" —
 * `sealpost audit verify` — with its result, naming the first bad index of a log that fails.
 */
import { badInput, iso, parseTime } from '../cli/cli-support.js';
import type { AuditQuery, StoredAuditEvent } from '../audit/audit-store.js';
import { METADATA_EVENT_TYPES } from '../events/metadata-event.js';
import type { ConsoleRequest, ConsoleResponse } from './console-request.js';
import { pageResponse } from './console-request.js';
import { csrfField, html, page, query, type Html } from './html.js';
import { checkpointTimeline } from './svg-charts.js';

/** Events per page. */
export const AUDIT_PAGE_SIZE = 100;

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** GET /audit */
export async function auditEvents(r: ConsoleRequest): Promise<ConsoleResponse> {
  const get = (k: string): string | undefined => {
    const v = r.query.get(k);
    return v === null || v.trim() === '' ? undefined : v.trim();
  };
  const p = {
    sender: get('sender'),
    type: get('type'),
    topic: get('topic'),
    messageId: get('messageId'),
    since: get('since'),
    until: get('until'),
  };
  const filter: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } = {
    limit: AUDIT_PAGE_SIZE + 1,
  };
  if (p.sender !== undefined) filter.sender = p.sender;
  if (p.topic !== undefined) filter.topic = p.topic;
  if (p.type !== undefined) {
    if (!(METADATA_EVENT_TYPES as readonly string[]).includes(p.type))
      throw badInput(`type: one of ${METADATA_EVENT_TYPES.join(', ')}`);
    filter.type = p.type;
  }
  if (p.messageId !== undefined) {
    if (!/^[0-9a-f]{32}$/.test(p.messageId))
      throw badInput('message id: 32 lowercase hex characters');
    filter.messageId = p.messageId;
  }
  if (p.since !== undefined) filter.fromMs = parseTime(p.since, 'since', r.clock);
  if (p.until !== undefined) filter.toMs = parseTime(p.until, 'until', r.clock);
  // Every log (one per metadata partition), merged by event time — as `audit query` does.
  const found = await r.services.withAuditLogs(async (logs) =>
    (await Promise.all(logs.map((l) => l.store.query(filter))))
      .flat()
      .sort((a, b) => a.event.timeMs - b.event.timeMs),
  );
  const events = found.slice(0, AUDIT_PAGE_SIZE);
  const base = r.page.base;
  const last = events[events.length - 1];
  const next =
    found.length > AUDIT_PAGE_SIZE && last !== undefined
      ? `${base}/audit${query({ ...p, since: iso(last.event.timeMs) })}`
      : undefined;
  const body = html` <form class="filters" method="get" action="${base}/audit">
      <label>Sender<input name="sender" value="${p.sender ?? ''}" size="14" /></label>
      <label
        >Type<select name="type">
          <option value="">any</option>
          ${METADATA_EVENT_TYPES.map(
            (t) => html`<option${t === p.type ? html` selected` : ''}>${t}</option>`,
          )}
        </select></label
      >
      <label>Topic<input name="topic" value="${p.topic ?? ''}" size="16" /></label>
      <label>Message id<input name="messageId" value="${p.messageId ?? ''}" size="20" /></label>
      <label
        >Since<input name="since" value="${p.since ?? ''}" size="14" placeholder="1h or ISO time"
      /></label>
      <label>Until<input name="until" value="${p.until ?? ''}" size="14" /></label>
      <button type="submit" class="primary">Query</button>
      <a href="${base}/audit">Clear</a>
    </form>
    ${
      events.length === 0
        ? html`<p class="muted">No events match.</p>`
        : html`<table class="events">
            <thead>
              <tr>
                <th class="num">index</th>
                <th>time</th>
                <th>type</th>
                <th>actor</th>
                <th>sender</th>
                <th>topic</th>
                <th class="num">partition</th>
                <th class="num">offset</th>
                <th>message id</th>
                <th>reason</th>
              </tr>
            </thead>
            <tbody>
              ${events.map(eventRow)}
            </tbody>
          </table>`
    }
    ${
      next === undefined
        ? ''
        : html`<p class="pager">
            More than ${AUDIT_PAGE_SIZE} events match.
            <a rel="next" href="${next}">Next page »</a> (from the last event's time)
          </p>`
    }`;
  return pageResponse(page(r.page, 'Audit events', body));
}

function eventRow(e: StoredAuditEvent): Html {
  const v = e.event;
  return html`<tr>
    <td class="num">${e.index}</td>
    <td>${iso(v.timeMs).slice(0, 23).replace('T', ' ')}</td>
    <td>${v.type}</td>
    <td>${v.actor}</td>
    <td>${v.sender ?? ''}</td>
    <td>${v.topic ?? ''}</td>
    <td class="num">${v.partition ?? ''}</td>
    <td class="num">${v.offset ?? ''}</td>
    <td class="mono">${v.messageId ?? ''}</td>
    <td>${v.reason ?? ''}</td>
  </tr> `;
}

/** GET /audit/checkpoints */
export async function auditCheckpoints(r: ConsoleRequest): Promise<ConsoleResponse> {
  const perLog = await r.services.withAuditLogs(async (logs) =>
    Promise.all(
      logs.map(async (l) => ({
        log: l,
        head: await l.store.head(),
        checkpoints: await l.store.checkpoints(),
      })),
    ),
  );
  const body = html` <form method="post" action="${r.page.base}/audit/verify" class="actions">
      ${csrfField(r.page)}
      <button type="submit" class="primary">Verify now</button>
      <span class="muted"
        >Recomputes every log's hash chain and checks every checkpoint, as
        <code>sealpost audit verify</code> does.</span
      >
    </form>
    ${perLog.map(
      ({ log, head, checkpoints }) =>
        html` <h2>
            ${log.partition === null ? 'Log' : `Partition ${log.partition}`}
            <code>${log.origin}</code>
          </h2>
          <p>
            ${head.count} entries; head <code>${hex(head.headHash).slice(0, 16)}…</code>;
            ${checkpoints.length} stored checkpoints.
          </p>
          ${checkpointTimeline(checkpoints.map((c) => ({ timeMs: c.timeMs, count: c.count })))}
          <table>
            <thead>
              <tr>
                <th>signed at</th>
                <th class="num">entries</th>
                <th>head hash</th>
                <th>signer kid</th>
              </tr>
            </thead>
            <tbody>
              ${[...checkpoints]
                .sort((a, b) => b.timeMs - a.timeMs)
                .slice(0, 20)
                .map(
                  (c) =>
                    html`<tr>
                      <td>${iso(c.timeMs)}</td>
                      <td class="num">${c.count}</td>
                      <td class="mono">${hex(c.headHash).slice(0, 16)}…</td>
                      <td class="mono">${hex(c.signerKid)}</td>
                    </tr>`,
                )}
            </tbody>
          </table>`,
    )}`;
  return pageResponse(page(r.page, 'Audit checkpoints', body));
}

/** POST /audit/verify (any caller: it changes nothing; CSRF checked by the app). */
export async function auditVerify(r: ConsoleRequest): Promise<ConsoleResponse> {
  const result = await r.services.verifyAudit();
  r.logger.info(
    { caller: r.caller.name, action: 'audit-verify', ok: result.ok },
    'console: audit verify',
  );
  const body = html` <div class="banner ${result.ok ? 'ok' : 'bad'}" id="verify-result">
      ${
        result.ok
          ? html`<span class="ok">Audit log OK</span>: ${result.logs.length}
              log${result.logs.length === 1 ? '' : 's'} verified.`
          : html`<span class="bad">Audit log NOT OK</span>${result.logs
                .filter((l) => !l.ok)
                .map(
                  (l) =>
                    html` — ${l.origin}:
                    ${
                      l.chainOk
                        ? html`published checkpoints ${l.tlogCheckpoints?.problem ?? 'failed'}`
                        : html`first bad index
                            <strong id="first-bad-index">${l.firstBadIndex ?? '?'}</strong>
                            (${l.problem ?? 'unknown'}${l.detail === undefined ? '' : `: ${l.detail}`})`
                    }`,
                )}${result.missingLogs.map((o) => html` — ${o}: published but not held here`)}`
      }
    </div>
    <table>
      <thead>
        <tr>
          <th>log</th>
          <th>result</th>
          <th class="num">entries</th>
          <th class="num">checkpoints verified</th>
          <th class="num">stored</th>
          <th class="num">published</th>
          <th>first bad index</th>
          <th>problem</th>
        </tr>
      </thead>
      <tbody>
        ${result.logs.map(
          (l) =>
            html`<tr>
              <td class="mono">${l.origin}</td>
              <td>
                ${l.ok ? html`<span class="ok">OK</span>` : html`<span class="bad">NOT OK</span>`}
              </td>
              <td class="num">${l.count}</td>
              <td class="num">${l.checkpointsVerified}</td>
              <td class="num">${l.storedCheckpoints}</td>
              <td class="num">${l.publishedCheckpoints ?? 'not checked'}</td>
              <td>${l.firstBadIndex ?? ''}</td>
              <td>
                ${l.problem ?? l.tlogCheckpoints?.problem ?? ''}${l.detail === undefined ? '' : `: ${l.detail}`}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
    <p><a href="${r.page.base}/audit/checkpoints">« Checkpoints</a></p>`;
  return pageResponse(page(r.page, 'Audit verification', body));
}
