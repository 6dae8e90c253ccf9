/**
 * The health page (docs/CONSOLE.md): the metrics docs/OPERATIONS.md ("Metrics to alert on") says to
 * alert on, read from the workers' Prometheus text, with the alert condition beside each, and the
 * quarantine's own numbers from the store.
 */
import { iso } from '../cli/cli-support.js';
import type { ConsoleRequest, ConsoleResponse } from './console-request.js';
import { pageResponse } from './console-request.js';
import { html, page } from './html.js';

/** The alert table of docs/OPERATIONS.md: metric → when to alert, and a check where a value alone tells. */
export const ALERT_METRICS: readonly {
  readonly name: string;
  readonly when: string;
  readonly alerting?: (value: number) => boolean;
}[] = [
  { name: 'sealpost_rejected_total', when: 'rate > 0 for class CONTEXT, HEADER or MESSAGE' },
  { name: 'sealpost_dead_lettered_total', when: 'rate > 0 for class CONTEXT, HEADER or MESSAGE' },
  { name: 'sealpost_duplicates_total', when: 'sudden rise' },
  { name: 'sealpost_admission_throttled_total', when: 'sustained' },
  { name: 'sealpost_dead_letter_breaker_open', when: 'open', alerting: (v) => v > 0 },
  { name: 'sealpost_dead_letter_throttled_total', when: 'rising' },
  { name: 'sealpost_transient_retries_total', when: 'sustained' },
  { name: 'sealpost_quarantine_entries', when: '> 0 and growing', alerting: (v) => v > 0 },
  { name: 'sealpost_quarantine_oldest_age_seconds', when: '> dead-letter retention / 2' },
  { name: 'sealpost_dlq_lag_records', when: 'growing' },
  { name: 'sealpost_broker_reachable', when: '0', alerting: (v) => v === 0 },
  {
    name: 'sealpost_audit_last_checkpoint_timestamp_seconds',
    when: 'older than 5 min while events flow',
  },
  { name: 'sealpost_audit_invalid_events_total', when: '> 0', alerting: (v) => v > 0 },
  { name: 'sealpost_open_seconds', when: 'p99 above your budget' },
  { name: 'sealpost_seal_seconds', when: 'p99 above your budget' },
];

/** One sample of Prometheus text: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: string;
  readonly value: number;
}

/** The samples of Prometheus text exposition (comments skipped; histograms as their series). */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (m === null) continue;
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    out.push({ name: m[1]!, labels: m[2] ?? '', value });
  }
  return out;
}

/** GET /health */
export async function healthPage(r: ConsoleRequest): Promise<ConsoleResponse> {
  const store = r.services.quarantine;
  const [text, counts, oldest] = await Promise.all([
    r.services.metricsText(),
    store.countsByReason(),
    store.oldestArrivalMs(),
  ]);
  const samples = parsePrometheusText(text);
  const now = r.clock.nowMs();
  const rows = ALERT_METRICS.map((m) => {
    // Histograms: the count series stands for the metric.
    const own = samples.filter((s) => s.name === m.name || s.name === `${m.name}_count`);
    return { m, own };
  });
  const body = html` <h2>Quarantine (from the store)</h2>
    <p>
      ${Object.values(counts).reduce((a, b) => a + b, 0)} entries quarantined; oldest
      ${
        oldest === null ? 'none' : html`${iso(oldest)} (${Math.round((now - oldest) / 1000)} s ago)`
      }.
    </p>
    <h2>Metrics to alert on (docs/OPERATIONS.md)</h2>
    ${
      text === ''
        ? html`<p class="muted">
            No metrics source configured: start the console with <code>--metrics-url</code> (a
            worker's <code>/metrics</code>), or serve it from a worker.
          </p>`
        : ''
    }
    <table class="metrics">
      <thead>
        <tr>
          <th>metric</th>
          <th>series</th>
          <th class="num">value</th>
          <th>alert when</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(({ m, own }) =>
          own.length === 0
            ? html`<tr>
                <td class="mono">${m.name}</td>
                <td class="muted">no series</td>
                <td></td>
                <td>${m.when}</td>
              </tr>`
            : own.map(
                (s, i) =>
                  html`<tr>
                    <td class="mono">${i === 0 ? m.name : ''}</td>
                    <td class="mono">
                      ${s.name === m.name ? '' : s.name.slice(m.name.length)}${s.labels}
                    </td>
                    <td class="num ${m.alerting?.(s.value) === true ? 'bad' : ''}">${s.value}</td>
                    <td>${i === 0 ? m.when : ''}</td>
                  </tr>`,
              ),
        )}
      </tbody>
    </table>`;
  return pageResponse(page(r.page, 'Health', body));
}
