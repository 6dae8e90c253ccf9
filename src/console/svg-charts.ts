/**
 * Charts rendered on the server as inline SVG (no script; colours from the stylesheet's classes):
 * quarantine arrivals by reason per time bucket as stacked bars, and the audit checkpoints as a
 * timeline of log size over time.
 */
import { html, type Html } from './html.js';

const W = 960;
const H = 240;
const PAD = { left: 56, right: 12, top: 12, bottom: 36 };

/** The axis top: four equal integer steps, each step 1, 2 or 5 times a power of ten. */
function niceMax(n: number): number {
  const want = Math.max(1, n / 4);
  const p = 10 ** Math.floor(Math.log10(want));
  for (const m of [1, 2, 5, 10]) if (m * p >= want) return 4 * m * p;
  return 40 * p;
}

function yAxis(max: number): Html {
  const h = H - PAD.top - PAD.bottom;
  return html`${[0, 0.25, 0.5, 0.75, 1].map((f) => {
      const y = PAD.top + h - f * h;
      return html`<line
          class="grid"
          x1="${PAD.left}"
          x2="${W - PAD.right}"
          y1="${y}"
          y2="${y}"
        /><text x="${PAD.left - 6}" y="${y + 4}" text-anchor="end">${Math.round(max * f)}</text>`;
    })}<line
      class="axis"
      x1="${PAD.left}"
      x2="${PAD.left}"
      y1="${PAD.top}"
      y2="${H - PAD.bottom}"
    />`;
}

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(5, 16).replace('T', ' ');

/**
 * Stacked bars: one bar per bucket (`buckets` of `bucketMs` from `fromMs`), one segment per reason.
 */
export function arrivalsChart(o: {
  readonly fromMs: number;
  readonly bucketMs: number;
  readonly buckets: number;
  readonly reasons: readonly string[];
  readonly counts: readonly { bucket: number; reason: string; count: number }[];
}): Html {
  const totals = new Array<number>(o.buckets).fill(0);
  for (const c of o.counts) if (c.bucket >= 0 && c.bucket < o.buckets) totals[c.bucket]! += c.count;
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const bw = plotW / o.buckets;
  const bars: Html[] = [];
  for (let b = 0; b < o.buckets; b++) {
    let y = PAD.top + plotH;
    for (const reason of o.reasons) {
      const n = o.counts.find((c) => c.bucket === b && c.reason === reason)?.count ?? 0;
      if (n === 0) continue;
      const h = (n / max) * plotH;
      y -= h;
      bars.push(
        html`<rect
          class="r-${reason}"
          x="${(PAD.left + b * bw + 1).toFixed(1)}"
          y="${y.toFixed(1)}"
          width="${Math.max(bw - 2, 1).toFixed(1)}"
          height="${h.toFixed(1)}"
          ><title>${hhmm(o.fromMs + b * o.bucketMs)} ${reason}: ${n}</title></rect
        >`,
      );
    }
  }
  const ticks = [0, Math.floor(o.buckets / 2), o.buckets - 1].map(
    (b) =>
      html`<text
        x="${(PAD.left + b * bw + bw / 2).toFixed(1)}"
        y="${H - PAD.bottom + 16}"
        text-anchor="middle"
        >${hhmm(o.fromMs + b * o.bucketMs)}</text
      >`,
  );
  return html`<svg
      class="chart"
      viewBox="0 0 ${W} ${H}"
      role="img"
      aria-label="quarantine arrivals by reason"
    >
      ${yAxis(max)}${bars}${ticks}
      <text x="${W - PAD.right}" y="${H - 6}" text-anchor="end">UTC</text>
    </svg>
    <div class="legend">
      ${o.reasons.map((r) => html`<span><span class="swatch r-${r}"></span>${r}</span>`)}
    </div>`;
}

/** Log size (entries) over time, one dot per checkpoint. */
export function checkpointTimeline(
  points: readonly { readonly timeMs: number; readonly count: number }[],
): Html {
  if (points.length === 0) return html`<p class="muted">No checkpoints yet.</p>`;
  const sorted = [...points].sort((a, b) => a.timeMs - b.timeMs);
  const t0 = sorted[0]!.timeMs;
  const t1 = Math.max(sorted[sorted.length - 1]!.timeMs, t0 + 1);
  const max = niceMax(Math.max(...sorted.map((p) => p.count)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (t: number): number => PAD.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (c: number): number => PAD.top + plotH - (c / max) * plotH;
  const line = sorted.map((p) => `${x(p.timeMs).toFixed(1)},${y(p.count).toFixed(1)}`).join(' ');
  return html`<svg
    class="chart"
    viewBox="0 0 ${W} ${H}"
    role="img"
    aria-label="audit checkpoints over time"
  >
    ${yAxis(max)}
    <polyline points="${line}" />
    ${sorted.map(
      (p) =>
        html`<circle cx="${x(p.timeMs).toFixed(1)}" cy="${y(p.count).toFixed(1)}" r="3"
          ><title>${new Date(p.timeMs).toISOString()}: ${p.count} entries</title></circle
        >`,
    )}
    <text x="${PAD.left}" y="${H - PAD.bottom + 16}">${hhmm(t0)}</text>
    <text x="${W - PAD.right}" y="${H - PAD.bottom + 16}" text-anchor="end">${hhmm(t1)} UTC</text>
  </svg>`;
}
