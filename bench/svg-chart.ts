/**
 * A grouped horizontal bar chart as a standalone SVG string (no external tools), for
 * docs/PERFORMANCE.md: one group per variant, one bar per series (e.g. producer and consumer msg/s).
 */

/** One bar group (a benchmark variant). */
export interface ChartGroup {
  readonly label: string;
  /** One value per series, in the order of `series`. */
  readonly values: readonly number[];
  /** Optional text after each bar (e.g. the ratio to the baseline). */
  readonly notes?: readonly string[];
}

/** Chart options. */
export interface BarChart {
  readonly title: string;
  readonly subtitle: string;
  readonly unit: string;
  readonly series: readonly { readonly name: string; readonly color: string }[];
  readonly groups: readonly ChartGroup[];
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A "nice" axis maximum (1, 2, 2.5, 5 × 10^k) at or above `max`. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** Renders `chart` as SVG 1.1 text. */
export function renderBarChart(chart: BarChart): string {
  const labelW = 230;
  const plotW = 460;
  const noteW = 90;
  const barH = 16;
  const barGap = 3;
  const groupGap = 16;
  const top = 64;
  const width = labelW + plotW + noteW + 20;
  const groupH = chart.series.length * (barH + barGap) - barGap;
  const plotH = chart.groups.length * (groupH + groupGap) - groupGap;
  const height = top + plotH + 56;
  const max = niceMax(Math.max(...chart.groups.flatMap((g) => g.values)));
  const x = (v: number): number => labelW + (v / max) * plotW;
  const fmt = (v: number): string => Math.round(v).toLocaleString('en-US');
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">${escapeXml(chart.title)}</text>`,
  );
  out.push(`<text x="10" y="40" fill="#555">${escapeXml(chart.subtitle)}</text>`);
  // Grid lines and axis labels.
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    const gx = x(v);
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 6}" x2="${gx.toFixed(1)}" y2="${top + plotH}" stroke="#e3e3e3"/>`,
    );
    out.push(
      `<text x="${gx.toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" fill="#555">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text x="${labelW + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle" fill="#333">${escapeXml(chart.unit)}</text>`,
  );
  chart.groups.forEach((g, gi) => {
    const gy = top + gi * (groupH + groupGap);
    out.push(
      `<text x="${labelW - 8}" y="${(gy + groupH / 2 + 4).toFixed(1)}" text-anchor="end" fill="#222">${escapeXml(g.label)}</text>`,
    );
    chart.series.forEach((s, si) => {
      const v = g.values[si] ?? 0;
      const by = gy + si * (barH + barGap);
      out.push(
        `<rect x="${labelW}" y="${by}" width="${Math.max(0, x(v) - labelW).toFixed(1)}" height="${barH}" fill="${s.color}"/>`,
      );
      const note = g.notes?.[si];
      const text = `${fmt(v)}${note === undefined ? '' : `  ${note}`}`;
      out.push(
        `<text x="${(x(v) + 4).toFixed(1)}" y="${by + barH - 4}" fill="#222">${escapeXml(text)}</text>`,
      );
    });
  });
  // Legend.
  let lx = labelW;
  for (const s of chart.series) {
    out.push(`<rect x="${lx}" y="${top - 20}" width="12" height="12" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${top - 10}" fill="#222">${escapeXml(s.name)}</text>`);
    lx += 30 + s.name.length * 7;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
